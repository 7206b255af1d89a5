"""Writes a deterministic SQL script for tools/test-preload.sh: builds a
database (tables, indexes, thousands of inserts in transactions, an update
and a delete pass, a big text column) and then queries it (joins, GROUP BY,
ORDER BY, window functions, a recursive CTE, string aggregation). Run by
sqlite3 once under glibc and once under vitalloc; outputs must match."""

import sys


def lcg(seed):
    x = seed
    while True:
        x = (1103515245 * x + 12345) & 0x7FFFFFFF
        yield x


def main():
    n_customers = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    n_orders = n_customers * 4
    rng = lcg(42)
    out = sys.stdout.write
    out(".bail on\n.headers on\n.mode list\nPRAGMA journal_mode = DELETE;\nPRAGMA cache_size = -2000;\n")
    out("""CREATE TABLE customer (id INTEGER PRIMARY KEY, name TEXT NOT NULL, city TEXT,
  joined INTEGER, notes TEXT);
CREATE TABLE product (id INTEGER PRIMARY KEY, title TEXT UNIQUE, price_cents INTEGER, category TEXT);
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customer(id),
  day INTEGER, status TEXT);
CREATE TABLE order_line (order_id INTEGER REFERENCES orders(id), product_id INTEGER
  REFERENCES product(id), qty INTEGER, PRIMARY KEY (order_id, product_id)) WITHOUT ROWID;
""")
    cities = ["Tokyo", "Osaka", "Lyon", "Quebec", "Lagos", "Lima", "Oslo", "Pune", "Perth", "Cork"]
    cats = ["game", "tool", "book", "toy", "food", "misc"]
    out("BEGIN;\n")
    for p in range(1, 501):
        out("INSERT INTO product VALUES (%d, 'product %04d', %d, '%s');\n"
            % (p, p, 100 + next(rng) % 99900, cats[next(rng) % len(cats)]))
    for c in range(1, n_customers + 1):
        notes = "note-%d " % c * (next(rng) % 40)
        out("INSERT INTO customer VALUES (%d, 'customer %05d', '%s', %d, '%s');\n"
            % (c, c, cities[next(rng) % len(cities)], next(rng) % 3650, notes))
    out("COMMIT;\nBEGIN;\n")
    for o in range(1, n_orders + 1):
        out("INSERT INTO orders VALUES (%d, %d, %d, '%s');\n"
            % (o, 1 + next(rng) % n_customers, next(rng) % 365,
               ["new", "paid", "shipped", "returned"][next(rng) % 4]))
        used = set()
        for _ in range(1 + next(rng) % 5):
            p = 1 + next(rng) % 500
            if p in used:
                continue
            used.add(p)
            out("INSERT INTO order_line VALUES (%d, %d, %d);\n" % (o, p, 1 + next(rng) % 9))
    out("COMMIT;\n")
    out("""CREATE INDEX orders_by_customer ON orders(customer_id, day);
CREATE INDEX customer_by_city ON customer(city, joined);
CREATE INDEX line_by_product ON order_line(product_id);
UPDATE customer SET notes = upper(notes) || '!' WHERE id % 7 = 0;
DELETE FROM order_line WHERE qty = 9 AND product_id % 3 = 0;
CREATE TABLE blob_store (id INTEGER PRIMARY KEY, payload TEXT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200)
INSERT INTO blob_store SELECT i, printf('%0' || (i * 500) || 'd', i) FROM n;
ANALYZE;
SELECT count(*) AS customers FROM customer;
SELECT count(*) AS orders, sum(status = 'paid') AS paid FROM orders;
SELECT count(*) AS lines, sum(qty) AS units FROM order_line;
SELECT c.city, count(DISTINCT o.id) AS orders, sum(l.qty * p.price_cents) AS revenue_cents
  FROM customer c JOIN orders o ON o.customer_id = c.id
  JOIN order_line l ON l.order_id = o.id JOIN product p ON p.id = l.product_id
  GROUP BY c.city ORDER BY revenue_cents DESC, c.city;
SELECT p.category, count(*) AS n, avg(p.price_cents) AS avg_price, max(l.qty) AS max_qty
  FROM product p LEFT JOIN order_line l ON l.product_id = p.id
  GROUP BY p.category ORDER BY p.category;
SELECT name, total, rnk FROM (
  SELECT c.name, sum(l.qty) AS total, rank() OVER (ORDER BY sum(l.qty) DESC, c.id) AS rnk
    FROM customer c JOIN orders o ON o.customer_id = c.id JOIN order_line l ON l.order_id = o.id
    GROUP BY c.id) WHERE rnk <= 15;
SELECT day / 30 AS month, status, count(*) AS n,
  sum(count(*)) OVER (PARTITION BY status ORDER BY day / 30) AS running
  FROM orders GROUP BY month, status ORDER BY status, month;
SELECT city, group_concat(id, ',') AS first_ids FROM
  (SELECT city, id FROM customer WHERE joined < 40 ORDER BY city, id) GROUP BY city ORDER BY city;
SELECT length(group_concat(notes, '')) AS notes_bytes, sum(length(notes)) AS check_sum FROM customer;
SELECT count(*) AS blobs, sum(length(payload)) AS bytes, substr(payload, -8) AS tail
  FROM blob_store WHERE id > 150;
WITH RECURSIVE fib(a, b, n) AS (SELECT 0, 1, 0 UNION ALL SELECT b, a + b, n + 1 FROM fib WHERE n < 80)
  SELECT n, a FROM fib WHERE n % 10 = 0;
SELECT o.customer_id, count(*) AS orders FROM orders o INDEXED BY orders_by_customer
  WHERE o.customer_id BETWEEN 100 AND 110 GROUP BY o.customer_id ORDER BY o.customer_id;
PRAGMA integrity_check;
""")


if __name__ == "__main__":
    main()
