/* SPDX-License-Identifier: MIT */
/*
 * A firmware that boots Linux by the 32-bit boot protocol
 * (Documentation/arch/x86/boot.rst): Xen loads it as HVM firmware
 * (firmware_override) with a bzImage linked in. It builds the zero page
 * (the setup header copied from the image, a command line, an E820 map from
 * the memory map the domain builder left at HVM_INFO_PADDR), copies the
 * protected-mode kernel to LOAD_AT and enters it. No BIOS, no ACPI: Linux
 * finds the virtio-mmio devices from its command line.
 */
#include <stdint.h>
#include <stddef.h>

#include <xen/hvm/hvm_info_table.h>

#ifndef LINUX_CMDLINE
#error "LINUX_CMDLINE must be defined"
#endif

#define LOAD_AT      0x1000000u /* 16 MiB: CONFIG_PHYSICAL_START */
#define ZERO_PAGE    0x10000u
#define CMDLINE_AT   0x20000u
#define E820_RAM      1
#define E820_RESERVED 2

extern const uint8_t kernel_start[], kernel_end[];
void enter_linux(uint32_t entry, uint32_t zero_page) __attribute__((noreturn));

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static void say(const char *s)
{
	for (; *s; s++) {
		outb(0xe9, (uint8_t)*s); /* Xen's debug port: xl dmesg */
		outb(0x3f8, (uint8_t)*s); /* the device model's COM1 */
	}
}

static void say_hex(uint32_t v)
{
	char b[11] = "0x";
	for (int i = 0; i < 8; i++)
		b[2 + i] = "0123456789abcdef"[(v >> (28 - 4 * i)) & 0xf];
	b[10] = 0;
	say(b);
}

static void fail(const char *why)
{
	say("linuxboot: ");
	say(why);
	say("\n");
	for (;;)
		__asm__ volatile("cli; hlt");
}

static void copy(void *dst, const void *src, size_t n)
{
	uint8_t *d = dst;
	const uint8_t *s = src;
	while (n--)
		*d++ = *s++;
}

static void zero(void *dst, size_t n)
{
	uint8_t *d = dst;
	while (n--)
		*d++ = 0;
}

static uint32_t rd32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(uint8_t *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

static unsigned e820_add(uint8_t *bp, unsigned n, uint64_t addr, uint64_t size, uint32_t type)
{
	uint8_t *e = bp + 0x2d0 + 20 * n; /* boot_params.e820_table */
	wr32(e, (uint32_t)addr);
	wr32(e + 4, (uint32_t)(addr >> 32));
	wr32(e + 8, (uint32_t)size);
	wr32(e + 12, (uint32_t)(size >> 32));
	wr32(e + 16, type);
	return n + 1;
}

void guest_main(void)
{
	const struct hvm_info_table *info = (const void *)HVM_INFO_PADDR;
	const uint8_t *k = kernel_start;
	uint32_t size = (uint32_t)(kernel_end - kernel_start);
	uint8_t *bp = (uint8_t *)ZERO_PAGE;
	static const char cmdline[] = LINUX_CMDLINE;

	say("linuxboot: ");
	if (size < 0x1000 || rd32(k + 0x202) != 0x53726448 /* "HdrS" */)
		fail("the linked kernel is not a bzImage");
	if ((k[0x206] | k[0x207] << 8) < 0x020c)
		fail("boot protocol older than 2.12");
	if (info->signature[0] != 'H' || info->low_mem_pgend == 0)
		fail("no HVM info table");
	uint32_t setup_sects = k[0x1f1] ? k[0x1f1] : 4;
	uint32_t pm_off = (setup_sects + 1) * 512;
	uint32_t ram_end = info->low_mem_pgend << 12;
	if (pm_off >= size || LOAD_AT + (size - pm_off) > ram_end)
		fail("the kernel does not fit in RAM");

	zero(bp, 4096);
	/* The setup header, as the image has it: 0x1f1 up to the end the
	 * jump at 0x200 gives. */
	copy(bp + 0x1f1, k + 0x1f1, 0x202 + k[0x201] - 0x1f1);
	bp[0x210] = 0xff;                    /* type_of_loader: undefined */
	bp[0x211] |= 0x01;                   /* loadflags: LOADED_HIGH */
	wr32(bp + 0x214, LOAD_AT);           /* code32_start */
	wr32(bp + 0x218, 0);                 /* ramdisk_image */
	wr32(bp + 0x21c, 0);                 /* ramdisk_size */
	wr32(bp + 0x228, CMDLINE_AT);        /* cmd_line_ptr */
	bp[0x1fa] = 0xff;                    /* vid_mode: normal */
	bp[0x1fb] = 0xff;
	copy((void *)CMDLINE_AT, cmdline, sizeof(cmdline));

	unsigned n = 0;
	n = e820_add(bp, n, 0, HVM_INFO_PFN << 12, E820_RAM);
	n = e820_add(bp, n, HVM_INFO_PFN << 12, 0x100000 - (HVM_INFO_PFN << 12), E820_RESERVED);
	n = e820_add(bp, n, 0x100000, ram_end - 0x100000, E820_RAM);
	if (info->reserved_mem_pgstart)
		n = e820_add(bp, n, (uint64_t)info->reserved_mem_pgstart << 12,
			     0x100000000ull - ((uint64_t)info->reserved_mem_pgstart << 12),
			     E820_RESERVED);
	if (info->high_mem_pgend > 0x100000)
		n = e820_add(bp, n, 0x100000000ull,
			     ((uint64_t)info->high_mem_pgend << 12) - 0x100000000ull, E820_RAM);
	bp[0x1e8] = (uint8_t)n;              /* e820_entries */

	copy((void *)LOAD_AT, k + pm_off, size - pm_off);
	say("Linux ");
	say_hex(size - pm_off);
	say(" bytes at ");
	say_hex(LOAD_AT);
	say(", RAM to ");
	say_hex(ram_end);
	say("\n");
	enter_linux(LOAD_AT, ZERO_PAGE);
}
