/* SPDX-License-Identifier: MIT */
/*
 * LD_PRELOAD shim: answers /dev/xen/privcmd without Xen and records every
 * ioctl on it (the DM_OP buffers byte for byte) into $CAPTURE_FILE.
 * Numbers and offsets come from capture_abi.h, generated from dmop-abi
 * (dmop_abi_tools::capture_shim).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "capture_abi.h"

static char fake[4096];

/* The capture file, looked up once; without one the shim only answers
 * (as the benchmark uses it), at the cost of a branch. */
static const char *capture_path(void)
{
    static int init;
    static const char *path;
    if (!init) {
        path = getenv("CAPTURE_FILE");
        init = 1;
    }
    return path;
}

static void logf_(const char *fmt, ...)
{
    const char *path = capture_path();
    if (!path)
        return;
    FILE *f = fopen(path, "a");
    if (!f)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fclose(f);
}

static int is_privcmd(const char *p)
{
    return p && strcmp(p, "/dev/xen/privcmd") == 0;
}

static int fake_open(int flags)
{
    static int (*real_open)(const char *, int, ...);
    if (!real_open)
        real_open = dlsym(RTLD_NEXT, "open");
    int fd = real_open("/dev/null", O_RDWR | (flags & O_CLOEXEC));
    if (fd >= 0 && fd < (int)sizeof(fake))
        fake[fd] = 1;
    logf_("OPEN privcmd%s\n", (flags & O_CLOEXEC) ? " cloexec" : "");
    return fd;
}

#define OPEN_WRAPPER(name)                                                   \
    int name(const char *p, int flags, ...)                                  \
    {                                                                        \
        static int (*real)(const char *, int, ...);                          \
        va_list ap;                                                          \
        va_start(ap, flags);                                                 \
        int mode = va_arg(ap, int);                                          \
        va_end(ap);                                                          \
        if (is_privcmd(p))                                                   \
            return fake_open(flags);                                         \
        if (!real)                                                           \
            real = dlsym(RTLD_NEXT, #name);                                  \
        return real(p, flags, mode);                                         \
    }
OPEN_WRAPPER(open)
OPEN_WRAPPER(open64)

#define OPENAT_WRAPPER(name)                                                 \
    int name(int dirfd, const char *p, int flags, ...)                       \
    {                                                                        \
        static int (*real)(int, const char *, int, ...);                     \
        va_list ap;                                                          \
        va_start(ap, flags);                                                 \
        int mode = va_arg(ap, int);                                          \
        va_end(ap);                                                          \
        if (is_privcmd(p))                                                   \
            return fake_open(flags);                                         \
        if (!real)                                                           \
            real = dlsym(RTLD_NEXT, #name);                                  \
        return real(dirfd, p, flags, mode);                                  \
    }
OPENAT_WRAPPER(openat)
OPENAT_WRAPPER(openat64)

int close(int fd)
{
    static int (*real)(int);
    if (!real)
        real = dlsym(RTLD_NEXT, "close");
    if (fd >= 0 && fd < (int)sizeof(fake) && fake[fd]) {
        fake[fd] = 0;
        logf_("CLOSE privcmd\n");
    }
    return real(fd);
}

static void dump(const unsigned char *p, size_t n)
{
    if (!capture_path())
        return;
    for (size_t i = 0; i < n; i++)
        logf_("%02x", p[i]);
}

int ioctl(int fd, unsigned long req, ...)
{
    static int (*real)(int, unsigned long, ...);
    va_list ap;
    va_start(ap, req);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    if (!(fd >= 0 && fd < (int)sizeof(fake) && fake[fd])) {
        if (!real)
            real = dlsym(RTLD_NEXT, "ioctl");
        return real(fd, req, arg);
    }
    unsigned char *a = arg;
    if (req == XDM_IOCTL_PRIVCMD_DM_OP) {
        uint16_t dom, num;
        void *ubufs;
        memcpy(&dom, a + XDM_DM_OP_DOM, 2);
        memcpy(&num, a + XDM_DM_OP_NUM, 2);
        memcpy(&ubufs, a + XDM_DM_OP_UBUFS, sizeof(void *));
        logf_("DM_OP dom=%u num=%u\n", dom, num);
        for (unsigned i = 0; i < num; i++) {
            unsigned char *b = (unsigned char *)ubufs + i * XDM_DM_OP_BUF_SIZE;
            void *uptr;
            size_t size;
            memcpy(&uptr, b + XDM_DM_OP_BUF_UPTR, sizeof(void *));
            memcpy(&size, b + XDM_DM_OP_BUF_LEN, sizeof(size_t));
            logf_("  buf%u size=%zu: ", i, size);
            dump(uptr, size);
            logf_("\n");
        }
        return 0;
    }
    if (req == XDM_IOCTL_PRIVCMD_RESTRICT) {
        uint16_t dom;
        memcpy(&dom, a, 2);
        logf_("RESTRICT dom=%u\n", dom);
        return 0;
    }
    logf_("IOCTL %#lx (refused)\n", req);
    errno = ENOTTY;
    return -1;
}
