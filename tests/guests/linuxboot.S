/* SPDX-License-Identifier: MIT */
/*
 * The kernel linuxboot.c boots, linked in, and the jump into it: the boot
 * protocol's 32-bit entry wants a GDT with flat __BOOT_CS (0x10) and
 * __BOOT_DS (0x18), those selectors loaded, interrupts off, %esi the zero
 * page and %ebp, %edi, %ebx zero.
 */
	.section .rodata
	.balign 16
	.globl kernel_start, kernel_end
kernel_start:
	.incbin KERNEL_IMAGE
kernel_end:

	.balign 8
gdt:
	.quad 0
	.quad 0
	.quad 0x00cf9a000000ffff	/* 0x10: code, flat */
	.quad 0x00cf92000000ffff	/* 0x18: data, flat */
gdt_end:
gdt_desc:
	.word gdt_end - gdt - 1
	.long gdt

	.text
	.code32
	.globl enter_linux
/* void enter_linux(uint32_t entry, uint32_t zero_page) */
enter_linux:
	cli
	mov 4(%esp), %eax
	mov 8(%esp), %esi
	lgdt gdt_desc
	ljmp $0x10, $1f
1:	mov $0x18, %ecx
	mov %ecx, %ds
	mov %ecx, %es
	mov %ecx, %ss
	mov %ecx, %fs
	mov %ecx, %gs
	xor %ebp, %ebp
	xor %edi, %edi
	xor %ebx, %ebx
	jmp *%eax

	.section .note.GNU-stack, "", @progbits
