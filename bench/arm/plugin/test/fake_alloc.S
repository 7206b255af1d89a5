/* An "allocator" whose instruction counts are known by hand, for the
   plugin's self-test (see selftest.c). Thumb-2, like the real builds.
   fa_entry(n):  push, mov, 2n loop, bl outside_fn, mov, bl fa_inner, mov,
                 bl fh_helper, pop                        = 2n + 8
                 + fa_inner(n) (2n + 1) + fh_helper(n) (3n + 1) = 7n + 10
   fa_inner(n):  2n loop + bx                             = 2n + 1 */
	.syntax unified
	.thumb
	.text

	.global fa_entry
	.type fa_entry, %function
	.thumb_func
fa_entry:
	push	{r4, lr}
	mov	r4, r0
1:	subs	r0, r0, #1
	bne	1b
	bl	outside_fn	@ foreign code: neither counted nor a new call
	mov	r0, r4
	bl	fa_inner	@ an entry point reached from inside: same call
	mov	r0, r4
	bl	fh_helper	@ a helper reached from inside: counted
	pop	{r4, pc}
	.size fa_entry, .-fa_entry

	.global fa_inner
	.type fa_inner, %function
	.thumb_func
fa_inner:
1:	subs	r0, r0, #1
	bne	1b
	bx	lr
	.size fa_inner, .-fa_inner
