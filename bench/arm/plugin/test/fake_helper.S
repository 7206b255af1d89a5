/* A "libgcc helper" for the plugin's self-test: fh_helper(n) runs
   3n + 1 instructions. */
	.syntax unified
	.thumb
	.text

	.global fh_helper
	.type fh_helper, %function
	.thumb_func
fh_helper:
1:	subs	r0, r0, #1
	nop
	bne	1b
	bx	lr
	.size fh_helper, .-fh_helper
