// SPDX-License-Identifier: MIT
/*
 * The virtio-blk benchmark the Linux guest runs on a raw disk (`cargo
 * xtask bench`, suite bench-virtio), the same binary whichever device
 * model serves the disk: sequential write and read throughput with
 * O_DIRECT 1 MiB requests, then a fixed number of 4 KiB O_DIRECT random
 * reads (the same work for every device model, whatever its speed). It
 * prints one "XDM-BENCH: name value" line per figure, and the requests the
 * kernel completed on the disk (/sys/block/NAME/stat), so that dom0 can
 * put the device model's CPU time per request beside it.
 *
 * Usage: blkbench /dev/vdX RANDOM_READS
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024 * 1024)
#define SEQ_MIB 32

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Reads and writes completed on disk `name` (fields 1 and 5 of its stat). */
static void completed(const char *name, unsigned long long *reads, unsigned long long *writes)
{
	char path[64];
	unsigned long long f[11] = { 0 };
	FILE *s;

	snprintf(path, sizeof(path), "/sys/block/%s/stat", name);
	s = fopen(path, "r");
	if (!s || fscanf(s, "%llu %llu %llu %llu %llu", &f[0], &f[1], &f[2], &f[3], &f[4]) != 5) {
		*reads = *writes = 0;
	} else {
		*reads = f[0];
		*writes = f[4];
	}
	if (s)
		fclose(s);
}

int main(int argc, char **argv)
{
	unsigned long long r0, w0, r1, w1, size, n, count;
	double t;
	const char *name;
	uint8_t *buf;
	int fd, i;

	if (argc != 3) {
		fprintf(stderr, "usage: blkbench /dev/vdX RANDOM_READS\n");
		return 2;
	}
	count = strtoull(argv[2], NULL, 10);
	name = strrchr(argv[1], '/') ? strrchr(argv[1], '/') + 1 : argv[1];
	fd = open(argv[1], O_RDWR | O_DIRECT);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	size = lseek(fd, 0, SEEK_END);
	if (size < SEQ_MIB * (unsigned long long)MIB || posix_memalign((void **)&buf, 4096, MIB)) {
		fprintf(stderr, "blkbench: %s is %llu bytes, need %d MiB\n", argv[1], size, SEQ_MIB);
		return 1;
	}
	memset(buf, 0xa5, MIB);
	completed(name, &r0, &w0);

	t = now();
	for (i = 0; i < SEQ_MIB; i++)
		if (pwrite(fd, buf, MIB, (off_t)i * MIB) != MIB) {
			perror("blkbench: write");
			return 1;
		}
	if (fdatasync(fd)) {
		perror("blkbench: fdatasync");
		return 1;
	}
	printf("XDM-BENCH: seq-write-MBps %.1f\n", SEQ_MIB * 1.048576 / (now() - t));

	t = now();
	for (i = 0; i < SEQ_MIB; i++)
		if (pread(fd, buf, MIB, (off_t)i * MIB) != MIB) {
			perror("blkbench: read");
			return 1;
		}
	printf("XDM-BENCH: seq-read-MBps %.1f\n", SEQ_MIB * 1.048576 / (now() - t));

	srandom(1);
	t = now();
	for (n = 0; n < count; n++) {
		off_t at = (off_t)(random() % (size / 4096)) * 4096;

		if (pread(fd, buf, 4096, at) != 4096) {
			perror("blkbench: random read");
			return 1;
		}
	}
	printf("XDM-BENCH: rand-read-4k-iops %.1f\n", n / (now() - t));
	completed(name, &r1, &w1);
	printf("XDM-BENCH: requests %llu\n", (r1 - r0) + (w1 - w0));
	fflush(stdout);
	close(fd);
	return 0;
}
