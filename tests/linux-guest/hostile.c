// SPDX-License-Identifier: MIT
/*
 * A hostile guest: a program in the Linux guest that drives a virtio-blk
 * device of xen-thin-dm's directly (a virtio-mmio slot Linux was not told
 * about), through /dev/mem, with malformed queues and requests. Each case
 * states what the device must do (fail the request, or set NEEDS_RESET);
 * after each, a reset and a well-formed read must work again. The rings
 * and buffers live in RAM the kernel command line reserved (memmap=),
 * so their guest-physical addresses are known.
 *
 * Output: one "XDM-HOSTILE: ok N - what" or "not ok" line per case, then a
 * summary; the exit status is the number of cases that did not hold, 200
 * when the slot holds no virtio-blk (the devices are on PCI), 100 when
 * /dev/mem cannot be used.
 *
 * SLOT (the device's registers) and RAM (the reserved region) come from
 * the build (xtask/src/linuxguest.rs); the disk's size from the device.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

#ifndef SLOT
#error "SLOT: the device's guest-physical register page"
#endif
#ifndef RAM
#error "RAM: the reserved region's guest-physical address"
#endif

#define RAM_SIZE 0x100000
#define QSIZE 8
/* Offsets in the reserved region. */
#define DESC 0x0000
#define AVAIL 0x1000
#define USED 0x2000
#define HDR 0x3000
#define STATUS 0x3100
#define DATA 0x4000
#define TABLE 0x20000

/* Guest-physical addresses nothing of the guest's RAM is at. */
#define BEYOND_RAM 0x700000000ull	/* 28 GiB, of a 128 MiB guest */
#define SPECIAL_PAGES 0xfeff0000ull	/* Xen's ioreq and other special pages */

static volatile uint32_t *regs;
static volatile uint8_t *ram;
static uint16_t avail_idx;
static int failed, cases;
static uint64_t sectors;
/* Sector 3 as the baseline read found it. */
static uint8_t sector3[512];

static uint32_t rd(unsigned int off)
{
	return regs[off / 4];
}

static void wr(unsigned int off, uint32_t v)
{
	regs[off / 4] = v;
}

static struct vring_desc *desc(unsigned int i)
{
	return (struct vring_desc *)(ram + DESC + 16 * i);
}

static void set_desc(unsigned int i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	struct vring_desc *d = desc(i);

	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

static uint16_t used_idx(void)
{
	return *(volatile uint16_t *)(ram + USED + 2);
}

static int needs_reset(void)
{
	return !!(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
}

static uint8_t status_byte(void)
{
	return ram[STATUS];
}

/* What Linux does to start the device; 0 if the device went along. */
static int set_up(void)
{
	uint32_t s = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;

	wr(VIRTIO_MMIO_STATUS, 0);
	memset((void *)ram, 0, DATA);
	avail_idx = 0;
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	wr(VIRTIO_MMIO_STATUS, s);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, 1); /* VIRTIO_F_VERSION_1 */
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, 1u << VIRTIO_RING_F_INDIRECT_DESC);
	wr(VIRTIO_MMIO_STATUS, s | VIRTIO_CONFIG_S_FEATURES_OK);
	if (!(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK))
		return -1;
	wr(VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(VIRTIO_MMIO_QUEUE_NUM, QSIZE);
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)(RAM + DESC));
	wr(VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)((RAM + DESC) >> 32));
	wr(VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)(RAM + AVAIL));
	wr(VIRTIO_MMIO_QUEUE_AVAIL_HIGH, 0);
	wr(VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)(RAM + USED));
	wr(VIRTIO_MMIO_QUEUE_USED_HIGH, 0);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	wr(VIRTIO_MMIO_STATUS, s | VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
	return needs_reset() ? -1 : 0;
}

/* Waits (up to 2 s) for the device to answer a notify: the used index
 * moves past `before`, or NEEDS_RESET. With an ioeventfd the kernel
 * completes the notify write at once and the device model serves the queue
 * afterwards, as a real driver expects. */
static void settle(uint16_t before)
{
	struct timespec ms = { 0, 1000000 };
	int i;

	for (i = 0; i < 2000; i++) {
		__sync_synchronize();
		if (used_idx() != before || needs_reset())
			return;
		nanosleep(&ms, NULL);
	}
}

/* Notifies queue `q` and waits for the device's answer. */
static void notify(unsigned int q)
{
	uint16_t before = used_idx();

	wr(VIRTIO_MMIO_QUEUE_NOTIFY, q);
	settle(before);
}

/* Makes chain `head` available, notifies queue 0 and waits for the answer. */
static void submit(uint16_t head)
{
	volatile uint16_t *ring = (volatile uint16_t *)(ram + AVAIL + 4);

	ring[avail_idx % QSIZE] = head;
	__sync_synchronize();
	avail_idx++;
	*(volatile uint16_t *)(ram + AVAIL + 2) = avail_idx;
	__sync_synchronize();
	notify(0);
}

static void header(uint32_t type, uint64_t sector)
{
	struct virtio_blk_outhdr *h = (struct virtio_blk_outhdr *)(ram + HDR);

	h->type = type;
	h->ioprio = 0;
	h->sector = sector;
	ram[STATUS] = 0xee;
}

/* A request of header, one data buffer (at `addr`, `len` bytes) and status. */
static void request(uint32_t type, uint64_t sector, uint64_t addr, uint32_t len)
{
	header(type, sector);
	set_desc(0, RAM + HDR, 16, VRING_DESC_F_NEXT, 1);
	set_desc(1, addr, len, VRING_DESC_F_NEXT | (type == VIRTIO_BLK_T_IN ? VRING_DESC_F_WRITE : 0), 2);
	set_desc(2, RAM + STATUS, 1, VRING_DESC_F_WRITE, 0);
	submit(0);
}

/* A well-formed read of sector 3: the device serves it, with the data the
 * baseline read found. */
static int serves_again(void)
{
	uint16_t before;
	int i;

	if (set_up())
		return 0;
	before = used_idx();
	memset((void *)(ram + DATA), 0, 512);
	request(VIRTIO_BLK_T_IN, 3, RAM + DATA, 512);
	if (used_idx() != (uint16_t)(before + 1) || status_byte() != VIRTIO_BLK_S_OK)
		return 0;
	for (i = 0; i < 512; i++)
		if (ram[DATA + i] != sector3[i])
			return 0;
	return 1;
}

static void result(int held, const char *what, const char *detail)
{
	int again = serves_again();

	cases++;
	if (held && again) {
		printf("XDM-HOSTILE: ok %d - %s\n", cases, what);
	} else {
		failed++;
		printf("XDM-HOSTILE: not ok %d - %s (%s%s)\n", cases, what,
		       held ? "" : detail, again ? "" : "; then the device did not serve a good request");
	}
	fflush(stdout);
}

/* The request was used and failed with VIRTIO_BLK_S_IOERR. */
static int failed_ioerr(uint16_t before)
{
	return used_idx() == (uint16_t)(before + 1) && status_byte() == VIRTIO_BLK_S_IOERR;
}

int main(void)
{
	char detail[96];
	uint16_t before;
	int fd, i;

	fd = open("/dev/mem", O_RDWR | O_SYNC);
	if (fd < 0) {
		perror("XDM-HOSTILE: /dev/mem");
		return 100;
	}
	regs = mmap(NULL, 0x1000, PROT_READ | PROT_WRITE, MAP_SHARED, fd, SLOT);
	ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, RAM);
	if (regs == MAP_FAILED || ram == MAP_FAILED) {
		perror("XDM-HOSTILE: mmap of /dev/mem");
		return 100;
	}
	if (rd(VIRTIO_MMIO_MAGIC_VALUE) != 0x74726976 || rd(VIRTIO_MMIO_DEVICE_ID) != 2) {
		/* The device model put its devices elsewhere (on PCI): 200 says so. */
		printf("XDM-HOSTILE: no virtio-blk at %#llx (magic %#x, id %u)\n", (unsigned long long)SLOT,
		       rd(VIRTIO_MMIO_MAGIC_VALUE), rd(VIRTIO_MMIO_DEVICE_ID));
		return 200;
	}
	/* The capacity, in sectors: the first 8 bytes of configuration space. */
	sectors = rd(VIRTIO_MMIO_CONFIG) | (uint64_t)rd(VIRTIO_MMIO_CONFIG + 4) << 32;
	printf("XDM-HOSTILE: virtio-blk at %#llx, %llu sectors; rings in reserved RAM at %#llx\n",
	       (unsigned long long)SLOT, (unsigned long long)sectors, (unsigned long long)RAM);
	set_up();
	before = used_idx();
	request(VIRTIO_BLK_T_IN, 3, RAM + DATA, 512);
	memcpy(sector3, (void *)(ram + DATA), 512);
	result(used_idx() == (uint16_t)(before + 1) && status_byte() == VIRTIO_BLK_S_OK,
	       "a well-formed read works (the baseline)", "read failed");

	/* Descriptor chains. */
	set_up();
	header(VIRTIO_BLK_T_IN, 0);
	set_desc(0, RAM + HDR, 16, VRING_DESC_F_NEXT, 1);
	set_desc(1, RAM + DATA, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 0);
	before = used_idx();
	submit(0);
	snprintf(detail, sizeof(detail), "used %u, status %#x", used_idx(), status_byte());
	result(used_idx() == (uint16_t)(before + 1) && status_byte() != VIRTIO_BLK_S_OK,
	       "a descriptor chain that loops (0 -> 1 -> 0) fails its request", detail);

	set_up();
	header(VIRTIO_BLK_T_IN, 0);
	set_desc(0, RAM + HDR, 16, VRING_DESC_F_NEXT, 200);
	before = used_idx();
	submit(0);
	snprintf(detail, sizeof(detail), "used %u, status %#x, needs reset %d", used_idx(), status_byte(),
		 needs_reset());
	result(used_idx() == (uint16_t)(before + 1) && status_byte() == 0xee,
	       "a chain whose next index is beyond the queue is used unanswered", detail);

	set_up();
	header(VIRTIO_BLK_T_IN, 0);
	memset((void *)(ram + DATA), 0xee, 512);
	set_desc(0, RAM + HDR, 16, VRING_DESC_F_NEXT, 1);
	set_desc(1, RAM + DATA, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 200);
	before = used_idx();
	submit(0);
	snprintf(detail, sizeof(detail), "used %u, last data byte %#x", used_idx(), ram[DATA + 511]);
	result(used_idx() == (uint16_t)(before + 1) && ram[DATA + 511] == 0xee && ram[DATA] == 0xee,
	       "a chain cut after a writable buffer: the buffer is not taken for the status byte", detail);

	set_up();
	header(VIRTIO_BLK_T_OUT, 0);
	for (i = 0; i < 2000; i++) {
		struct vring_desc *d = (struct vring_desc *)(ram + TABLE + 16 * i);

		d->addr = i == 0 ? RAM + HDR : i == 1999 ? RAM + STATUS : RAM + DATA;
		d->len = i == 0 ? 16 : 1;
		d->flags = i == 1999 ? VRING_DESC_F_WRITE : VRING_DESC_F_NEXT;
		d->next = i + 1;
	}
	set_desc(0, RAM + TABLE, 16 * 2000, VRING_DESC_F_INDIRECT, 0);
	before = used_idx();
	submit(0);
	snprintf(detail, sizeof(detail), "used %u, status %#x", used_idx(), status_byte());
	result(used_idx() == (uint16_t)(before + 1) && status_byte() == 0xee,
	       "an indirect chain of 2000 descriptors is used unanswered, its end never walked to", detail);

	/* Buffers the device must not reach. */
	set_up();
	before = used_idx();
	request(VIRTIO_BLK_T_IN, 0, BEYOND_RAM, 512);
	snprintf(detail, sizeof(detail), "status %#x", status_byte());
	result(failed_ioerr(before), "a buffer outside guest RAM fails (IOERR)", detail);

	set_up();
	before = used_idx();
	request(VIRTIO_BLK_T_IN, 0, SPECIAL_PAGES, 512);
	snprintf(detail, sizeof(detail), "status %#x", status_byte());
	result(failed_ioerr(before), "a buffer in Xen's special pages (the ioreq pages' place) fails", detail);

	set_up();
	before = used_idx();
	request(VIRTIO_BLK_T_OUT, 0, 0xfffffffffffff000ull, 0x2000);
	snprintf(detail, sizeof(detail), "status %#x", status_byte());
	result(failed_ioerr(before), "a buffer whose address wraps fails", detail);

	set_up();
	before = used_idx();
	request(VIRTIO_BLK_T_OUT, 0, RAM + DATA, 0xffffffff);
	snprintf(detail, sizeof(detail), "used %u, status %#x", used_idx(), status_byte());
	/* Header and buffer make a chain over 2^32 bytes, which virtio forbids:
	 * it is cut there, and its request used unanswered. */
	result(used_idx() == (uint16_t)(before + 1) && status_byte() == 0xee,
	       "a chain of over 4 GiB (a 4 GiB buffer, running off guest RAM) is used unanswered", detail);

	/* Sectors. */
	set_up();
	before = used_idx();
	memset((void *)(ram + DATA), 0xcc, 1024);
	request(VIRTIO_BLK_T_OUT, sectors - 1, RAM + DATA, 1024);
	snprintf(detail, sizeof(detail), "status %#x", status_byte());
	result(failed_ioerr(before), "a write running past the disk's end fails", detail);

	set_up();
	before = used_idx();
	request(VIRTIO_BLK_T_OUT, 0xfffffffffffffff0ull, RAM + DATA, 512);
	snprintf(detail, sizeof(detail), "status %#x", status_byte());
	result(failed_ioerr(before), "a sector whose byte offset overflows fails", detail);

	set_up();
	before = used_idx();
	memset((void *)(ram + DATA), 0x5a, 512);
	request(VIRTIO_BLK_T_OUT, 5, RAM + DATA, 512);
	snprintf(detail, sizeof(detail), "status %#x", status_byte());
	result(used_idx() == (uint16_t)(before + 1) && status_byte() == VIRTIO_BLK_S_OK,
	       "a well-formed write of sector 5 works (the host checks it is the only change)", detail);

	/* Rings and indices. */
	set_up();
	header(VIRTIO_BLK_T_IN, 0);
	*(volatile uint16_t *)(ram + AVAIL + 2) = 1000;
	notify(0);
	result(needs_reset(), "an available index 1000 ahead of the device: NEEDS_RESET", "no NEEDS_RESET");

	set_up();
	header(VIRTIO_BLK_T_IN, 0);
	submit(200);
	result(needs_reset(), "a head index beyond the queue: NEEDS_RESET", "no NEEDS_RESET");

	set_up();
	notify(5);
	result(needs_reset(), "a notify of a queue that does not exist: NEEDS_RESET", "no NEEDS_RESET");

	set_up();
	wr(VIRTIO_MMIO_QUEUE_NUM, 4);
	result(needs_reset(), "a queue changed while the device is live: NEEDS_RESET", "no NEEDS_RESET");

	wr(VIRTIO_MMIO_STATUS, 0);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	wr(VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(VIRTIO_MMIO_QUEUE_NUM, QSIZE);
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)BEYOND_RAM);
	wr(VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(BEYOND_RAM >> 32));
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, 1);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK |
				       VIRTIO_CONFIG_S_DRIVER_OK);
	notify(0);
	result(needs_reset(), "a descriptor table outside guest RAM: NEEDS_RESET at the notify", "no NEEDS_RESET");

	/* Feature negotiation out of order. */
	wr(VIRTIO_MMIO_STATUS, 0);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_DRIVER_OK);
	result(needs_reset(), "DRIVER_OK before FEATURES_OK: NEEDS_RESET", "no NEEDS_RESET");

	wr(VIRTIO_MMIO_STATUS, 0);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, 0x80000001);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK);
	result(!(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK),
	       "a feature the device did not offer: FEATURES_OK does not stick", "FEATURES_OK stuck");

	wr(VIRTIO_MMIO_STATUS, 0);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, 1);
	result(needs_reset(), "features written before DRIVER: NEEDS_RESET", "no NEEDS_RESET");

	wr(VIRTIO_MMIO_STATUS, 0);
	printf("XDM-HOSTILE: %d of %d cases held\n", cases - failed, cases);
	return failed;
}
