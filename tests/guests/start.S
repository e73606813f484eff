/* SPDX-License-Identifier: MIT */
/*
 * Entry of the test guest. Xen loads it as HVM firmware (xl's
 * firmware_override) and enters it in 32-bit flat protected mode, paging
 * and interrupts off, with no stack.
 */
	.section .text.start, "ax"
	.code32
	.globl _start
_start:
	cli
	mov $stack_top, %esp
	xor %ebp, %ebp
	call guest_main
1:	cli
	hlt
	jmp 1b

	.bss
	.align 16
	.space 16384
stack_top:

	.section .note.GNU-stack, "", @progbits
