/* SPDX-License-Identifier: MIT */
/*
 * xdm test guest: a freestanding HVM "firmware" that exercises a device
 * model. It prints through COM1 and Xen's debug port, checks the scratch
 * port and MMIO devices (byte, word, dword, string I/O both directions),
 * looks for the test PCI device (config space, BAR sizing, MMIO registers,
 * its INTx and MSI arriving at the local APIC), prints "Test result:
 * SUCCESS" or "FAILURE", and asks to be shut down through the debug-exit
 * port.
 *
 * Built with -DTG_BENCH it is the benchmark guest instead: it times
 * TG_BENCH_ROUNDS reads of the UART's scratch register (a port every
 * device model under test emulates), each a round trip guest -> Xen ->
 * device model -> Xen -> guest, and prints the rate; then as many dword
 * writes to TG_BENCH_NOTIFY (a virtio queue notify, answered by a device
 * model or by the kernel's ioeventfd), and prints their rate.
 */
#include <stdint.h>
#include <xen/xen.h>
#include <xen/event_channel.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/params.h>
#include <xen/io/xs_wire.h>
#include "testguest.h"

/* The project's xenstore message type (xen-patches), given by the build
 * from dmop-abi: upstream's xs_wire.h does not have it. */
#ifndef XDM_XS_ONE_TIME_RESTRICT
#error "build with -DXDM_XS_ONE_TIME_RESTRICT=N (dmop-abi's xs_wire::XS_ONE_TIME_RESTRICT)"
#endif

static inline void outb(uint16_t p, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(p)); }
static inline void outw(uint16_t p, uint16_t v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(p)); }
static inline void outl(uint16_t p, uint32_t v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(p)); }
static inline uint8_t inb(uint16_t p) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(p)); return v; }
static inline uint16_t inw(uint16_t p) { uint16_t v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(p)); return v; }
static inline uint32_t inl(uint16_t p) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(p)); return v; }

static int uart_present;

static void putc_all(char c)
{
    outb(TG_XEN_DEBUG_PORT, (uint8_t)c);
    if (uart_present) {
        /* Wait for the transmit holding register to empty (LSR bit 5). */
        for (int i = 0; i < 100000 && !(inb(TG_COM1 + 5) & 0x20); i++)
            ;
        outb(TG_COM1, (uint8_t)c);
    }
}

static void puts_all(const char *s)
{
    while (*s)
        putc_all(*s++);
}

static void uart_init(void)
{
    /* A 16550 keeps what is written to its scratch register (offset 7). */
    outb(TG_COM1 + 7, 0x5a);
    uart_present = inb(TG_COM1 + 7) == 0x5a;
    if (uart_present) {
        outb(TG_COM1 + 3, 0x80);   /* DLAB */
        outb(TG_COM1 + 0, 0x01);   /* 115200 baud */
        outb(TG_COM1 + 1, 0x00);
        outb(TG_COM1 + 3, 0x03);   /* 8n1 */
        outb(TG_COM1 + 2, 0xc7);   /* FIFO on, cleared */
    }
}

#ifdef TG_BENCH
static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}

static void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

/* The guest's TSC frequency from Xen's CPUID leaves, in kHz (0 if absent). */
static uint32_t tsc_khz(void)
{
    for (uint32_t base = 0x40000000; base < 0x40010000; base += 0x100) {
        uint32_t r[4];
        cpuid(base, 0, r);
        if (r[1] == 0x566e6558 && r[2] == 0x65584d4d && r[3] == 0x4d4d566e && r[0] >= base + 3) {
            cpuid(base + 3, 0, r);
            return r[2];
        }
    }
    return 0;
}

/* 64-by-32-bit division without libgcc. */
static uint64_t div64(uint64_t n, uint32_t d)
{
    uint64_t q = 0, r = 0;
    for (int i = 63; i >= 0; i--) {
        r = r << 1 | ((n >> i) & 1);
        if (r >= d) {
            r -= d;
            q |= 1ull << i;
        }
    }
    return q;
}

static void putdec(uint32_t v)
{
    char b[12];
    int i = 0;
    do {
        b[i++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (i)
        putc_all(b[--i]);
}

/* One line, parsed by the benchmarks: rounds, microseconds, rate. */
static void report(const char *what, uint64_t ticks, uint32_t khz)
{
    uint64_t us = khz ? div64(ticks * 1000, khz) : 0;
    puts_all("bench: ");
    puts_all(what);
    puts_all(" ");
    putdec(TG_BENCH_ROUNDS);
    puts_all(" in-us ");
    putdec((uint32_t)us);
    puts_all(" per-second ");
    putdec(us && us < 0xffffffffu ? (uint32_t)div64((uint64_t)TG_BENCH_ROUNDS * 1000000, (uint32_t)us) : 0);
    puts_all("\n");
}

void guest_main(void)
{
    uart_init();
    puts_all("xdm-benchguest: hello\n");
    uint32_t khz = tsc_khz();
    uint64_t t0 = rdtsc();
    for (uint32_t i = 0; i < TG_BENCH_ROUNDS; i++)
        (void)inb(TG_COM1 + 7);
    uint64_t t1 = rdtsc();
    report("pio-round-trips", t1 - t0, khz);
    /* A virtio queue notify: a dword write the vCPU waits on until answered. */
    volatile uint32_t *notify = (volatile uint32_t *)TG_BENCH_NOTIFY;
    t0 = rdtsc();
    for (uint32_t i = 0; i < TG_BENCH_ROUNDS; i++)
        *notify = 0;
    t1 = rdtsc();
    report("mmio-notify-round-trips", t1 - t0, khz);
    outw(TG_DEBUG_EXIT_PORT, TG_EXIT_SUCCESS);
}
#else
static void puthex(uint32_t v)
{
    static const char d[] = "0123456789abcdef";
    puts_all("0x");
    for (int i = 28; i >= 0; i -= 4)
        putc_all(d[(v >> i) & 0xf]);
}

static int failures;

static void check(const char *what, uint32_t got, uint32_t want)
{
    puts_all(got == want ? "ok     " : "FAILED ");
    puts_all(what);
    if (got != want) {
        puts_all(": got ");
        puthex(got);
        puts_all(" want ");
        puthex(want);
        failures++;
    }
    puts_all("\n");
}

static void pio_tests(void)
{
    outb(TG_SCRATCH_PORT, 0xa5);
    check("pio byte write/read", inb(TG_SCRATCH_PORT), 0xa5);
    outw(TG_SCRATCH_PORT, 0xbeef);
    check("pio word write/read", inw(TG_SCRATCH_PORT), 0xbeef);
    outl(TG_SCRATCH_PORT, 0x12345678);
    check("pio dword write/read", inl(TG_SCRATCH_PORT), 0x12345678);
    check("pio byte read of a dword's second byte", inb(TG_SCRATCH_PORT + 1), 0x56);

    /* String I/O: rep outsb walks the source; the device keeps the last byte. */
    static const uint8_t src[4] = { 1, 2, 3, 4 };
    const uint8_t *s = src;
    uint32_t n = 4;
    __asm__ volatile("cld; rep outsb" : "+S"(s), "+c"(n) : "d"((uint16_t)TG_SCRATCH_PORT) : "memory");
    check("rep outsb (df=0) leaves the last byte", inb(TG_SCRATCH_PORT), 4);
    s = src + 3;
    n = 4;
    __asm__ volatile("std; rep outsb; cld" : "+S"(s), "+c"(n) : "d"((uint16_t)TG_SCRATCH_PORT) : "memory");
    check("rep outsb (df=1) leaves the first byte", inb(TG_SCRATCH_PORT), 1);
    outl(TG_SCRATCH_PORT, 0x44332211);
    uint8_t dst[4] = { 0, 0, 0, 0 };
    uint8_t *d = dst;
    n = 4;
    __asm__ volatile("cld; rep insb" : "+D"(d), "+c"(n) : "d"((uint16_t)TG_SCRATCH_PORT) : "memory");
    check("rep insb reads the same byte four times", dst[0] | dst[1] << 8 | dst[2] << 16 | (uint32_t)dst[3] << 24, 0x11111111);
}

static void mmio_tests(void)
{
    volatile uint8_t *b = (volatile uint8_t *)TG_SCRATCH_MMIO;
    volatile uint16_t *w = (volatile uint16_t *)TG_SCRATCH_MMIO;
    volatile uint32_t *l = (volatile uint32_t *)TG_SCRATCH_MMIO;
    b[16] = 0x5a;
    check("mmio byte write/read", b[16], 0x5a);
    w[16] = 0xcafe;
    check("mmio word write/read", w[16], 0xcafe);
    l[16] = 0xdeadbeef;
    check("mmio dword write/read", l[16], 0xdeadbeef);
    check("mmio byte within a dword", b[65], 0xbe);
    /* rep movsd to MMIO and back. */
    static const uint32_t pattern[4] = { 0x11111111, 0x22222222, 0x33333333, 0x44444444 };
    const uint32_t *s = pattern;
    volatile uint32_t *dd = l + 32;
    uint32_t n = 4;
    __asm__ volatile("cld; rep movsl" : "+S"(s), "+D"(dd), "+c"(n) : : "memory");
    uint32_t back[4];
    uint32_t *bd = back;
    volatile uint32_t *ss = l + 32;
    n = 4;
    __asm__ volatile("cld; rep movsl" : "+S"(ss), "+D"(bd), "+c"(n) : : "memory");
    check("rep movsl to and from mmio", back[0] ^ back[1] ^ back[2] ^ back[3], 0x11111111 ^ 0x22222222 ^ 0x33333333 ^ 0x44444444);
}

/*
 * Interrupts stay disabled: an interrupt the device raises is seen pending
 * in the local APIC's IRR instead of being taken.
 */
#define LAPIC_BASE   0xfee00000u
#define IOAPIC_BASE  0xfec00000u
#define VEC_INTX     0x41
#define VEC_MSI      0x42

static volatile uint32_t *lapic(uint32_t reg) { return (volatile uint32_t *)(LAPIC_BASE + reg); }

static int lapic_pending(uint8_t vec)
{
    return (*lapic(0x200 + 0x10 * (vec / 32)) >> (vec % 32)) & 1;
}

static void ioapic_route(uint32_t gsi, uint8_t vec, int level)
{
    volatile uint32_t *sel = (volatile uint32_t *)IOAPIC_BASE;
    volatile uint32_t *win = (volatile uint32_t *)(IOAPIC_BASE + 0x10);
    *sel = 0x11 + 2 * gsi;   /* high half: destination APIC 0 */
    *win = 0;
    *sel = 0x10 + 2 * gsi;   /* low half: vector, fixed, physical, unmasked */
    *win = vec | (level ? 1u << 15 : 0);
}

static uint32_t pci_read(uint32_t bdf, uint32_t reg)
{
    outl(0xcf8, 0x80000000u | bdf << 8 | (reg & 0xfc));
    return inl(0xcfc);
}

static void pci_write(uint32_t bdf, uint32_t reg, uint32_t v)
{
    outl(0xcf8, 0x80000000u | bdf << 8 | (reg & 0xfc));
    outl(0xcfc, v);
}

static void pci_tests(void)
{
    for (uint32_t dev = 0; dev < 32; dev++) {
        uint32_t bdf = dev << 3;
        uint32_t id = pci_read(bdf, 0);
        if (id != ((uint32_t)TG_PCI_DEVICE << 16 | TG_PCI_VENDOR))
            continue;
        puts_all("pci: test device at 00:");
        puthex(dev);
        puts_all("\n");
        pci_write(bdf, 0x10, 0xffffffffu);
        uint32_t mask = pci_read(bdf, 0x10) & ~0xfu;
        check("pci BAR0 sizes to 4 KiB", ~mask + 1, 0x1000);
        pci_write(bdf, 0x10, 0xfe000000u);
        check("pci BAR0 takes its address", pci_read(bdf, 0x10) & ~0xfu, 0xfe000000u);
        pci_write(bdf, 0x04, pci_read(bdf, 0x04) | 0x2);
        volatile uint32_t *regs = (volatile uint32_t *)0xfe000000u;
        check("pci mmio id register", regs[0], TG_SCRATCH_ID);
        regs[1] = 0x600dcafe;
        check("pci mmio scratch register", regs[1], 0x600dcafe);
        uint32_t c0 = regs[2], c1 = regs[2];
        check("pci mmio counter counts reads", c1 - c0, 1);

        /* Interrupts: the local APIC enabled (spurious vector 0xff), INTA
         * of this slot routed through the IO-APIC. Xen's PCI INTx to GSI
         * swizzle on bus 0: 16 + ((slot * 4 + slot / 8 + pin) % 32). */
        *lapic(0xf0) = 0x1ff;
        ioapic_route(16 + ((dev * 4 + dev / 8) % 32), VEC_INTX, 1);
        check("no INTx pending before the doorbell", lapic_pending(VEC_INTX), 0);
        regs[3] = 1;        /* doorbell: assert INTA */
        check("pci INTx reaches the local APIC", lapic_pending(VEC_INTX), 1);
        regs[3] = 0;        /* deassert */
        regs[4] = LAPIC_BASE;     /* MSI address: APIC 0 */
        regs[6] = VEC_MSI;        /* MSI data: fixed, edge */
        check("no MSI pending before the doorbell", lapic_pending(VEC_MSI), 0);
        regs[3] = 2;        /* doorbell: send the MSI */
        check("pci MSI reaches the local APIC", lapic_pending(VEC_MSI), 1);
        return;
    }
    puts_all("pci: no test device\n");
}

static uint8_t cmos_read(uint8_t reg)
{
    outb(0x70, reg);
    return inb(0x71);
}

static void cmos_write(uint8_t reg, uint8_t v)
{
    outb(0x70, reg);
    outb(0x71, v);
}

/*
 * Moves the RTC (emulated by Xen itself) 30 seconds on. Xen tells every
 * device model the guest's new clock offset through the buffered ring
 * (IOREQ_TYPE_TIMEOFFSET, an 8-byte value in two slots).
 */
static void rtc_tests(void)
{
    uint8_t b = cmos_read(0x0b);
    int binary = b & 0x04;
    cmos_write(0x0b, b | 0x80);      /* SET: stop updates */
    uint8_t s = cmos_read(0x00);
    uint8_t sec = binary ? s : (uint8_t)((s >> 4) * 10 + (s & 0xf));
    sec = (uint8_t)((sec + 30) % 60);
    cmos_write(0x00, binary ? sec : (uint8_t)((sec / 10) << 4 | sec % 10));
    cmos_write(0x0b, b & (uint8_t)~0x80);
    puts_all("rtc: clock moved by 30 s\n");
}

/*
 * The guest's own xenstore connection: unprivileged, over the ring Xen's
 * toolstack set up (HVM_PARAM_STORE_PFN, HVM_PARAM_STORE_EVTCHN), driven
 * by polling with interrupts off. It reads its own name, then tries
 * XS_ONE_TIME_RESTRICT (xen-patches), which only privileged
 * connections may send: a patched xenstored answers EACCES, others ENOSYS.
 * Numbers and layouts come from Xen's public headers.
 */
static uint8_t hypercall_page[4096] __attribute__((aligned(4096)));

static void cpuid4(uint32_t leaf, uint32_t r[4])
{
    __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(0));
}

static long hypercall2(unsigned int op, uint32_t a1, uint32_t a2)
{
    long ret;
    void *entry = hypercall_page + op * 32;
    __asm__ volatile("call *%[entry]" : "=a"(ret), "+b"(a1), "+c"(a2) : [entry] "D"(entry) : "memory", "edx", "esi");
    return ret;
}

static int hypercalls_init(void)
{
    for (uint32_t base = 0x40000000; base < 0x40010000; base += 0x100) {
        uint32_t r[4];
        cpuid4(base, r);
        if (r[1] == 0x566e6558 && r[2] == 0x65584d4d && r[3] == 0x4d4d566e && r[0] >= base + 2) {
            cpuid4(base + 2, r);   /* ebx: the MSR that installs the hypercall page */
            __asm__ volatile("wrmsr" : : "c"(r[1]), "a"((uint32_t)hypercall_page), "d"(0) : "memory");
            return 1;
        }
    }
    return 0;
}

static uint64_t hvm_param(uint32_t index)
{
    struct xen_hvm_param p = { .domid = DOMID_SELF, .index = index };
    return hypercall2(__HYPERVISOR_hvm_op, HVMOP_get_param, (uint32_t)&p) ? 0 : p.value;
}

static struct xenstore_domain_interface *xs;
static evtchn_port_t xs_port;

static void xs_notify(void)
{
    struct evtchn_send send = { .port = xs_port };
    hypercall2(__HYPERVISOR_event_channel_op, EVTCHNOP_send, (uint32_t)&send);
}

/* One request; the reply's payload goes to `out` (NUL-terminated). Returns its type, or -1. */
static int xs_request(uint32_t type, const char *payload, uint32_t len, char *out, uint32_t outlen)
{
    struct xsd_sockmsg hdr = { .type = type, .req_id = 0x4744, .tx_id = 0, .len = len };
    XENSTORE_RING_IDX prod = xs->req_prod;
    for (uint32_t i = 0; i < sizeof(hdr) + len; i++)
        xs->req[MASK_XENSTORE_IDX(prod + i)] = i < sizeof(hdr) ? ((const char *)&hdr)[i] : payload[i - sizeof(hdr)];
    __asm__ volatile("" : : : "memory");
    xs->req_prod = prod + sizeof(hdr) + len;
    xs_notify();
    struct xsd_sockmsg rhdr;
    for (uint32_t spins = 0;; spins++) {
        uint32_t avail = xs->rsp_prod - xs->rsp_cons;
        if (avail >= sizeof(rhdr)) {
            for (uint32_t i = 0; i < sizeof(rhdr); i++)
                ((char *)&rhdr)[i] = xs->rsp[MASK_XENSTORE_IDX(xs->rsp_cons + i)];
            if (avail >= sizeof(rhdr) + rhdr.len)
                break;
        }
        if (spins > 200000000u)
            return -1;
        __asm__ volatile("pause");
    }
    XENSTORE_RING_IDX cons = xs->rsp_cons;
    uint32_t n = rhdr.len < outlen - 1 ? rhdr.len : outlen - 1;
    for (uint32_t i = 0; i < n; i++)
        out[i] = xs->rsp[MASK_XENSTORE_IDX(cons + sizeof(rhdr) + i)];
    out[n] = 0;
    __asm__ volatile("" : : : "memory");
    xs->rsp_cons = cons + sizeof(rhdr) + rhdr.len;
    xs_notify();
    return (int)rhdr.type;
}

static void xenstore_tests(void)
{
    char out[128];
    if (!hypercalls_init()) {
        puts_all("xenstore: no Xen hypercall page\n");
        return;
    }
    uint64_t pfn = hvm_param(HVM_PARAM_STORE_PFN);
    xs_port = (evtchn_port_t)hvm_param(HVM_PARAM_STORE_EVTCHN);
    if (!pfn || pfn >= 0x100000) {
        puts_all("xenstore: no ring\n");
        return;
    }
    xs = (struct xenstore_domain_interface *)(uint32_t)(pfn << 12);
    int t = xs_request(XS_READ, "name", 5, out, sizeof(out));
    puts_all(t == XS_READ ? "xenstore: the guest reads its name: " : "xenstore: reading its name failed: ");
    puts_all(out);
    puts_all("\n");
    /* Act as domain 1: "<domid>\0<type>\0<payload>", XS_READ of "name". */
    _Static_assert(XS_READ < 10, "one digit");
    const char otr[] = { '1', 0, '0' + XS_READ, 0, 'n', 'a', 'm', 'e', 0 };
    t = xs_request(XDM_XS_ONE_TIME_RESTRICT, otr, sizeof(otr), out, sizeof(out));
    puts_all("xenstore: XS_ONE_TIME_RESTRICT from the guest (unprivileged): ");
    puts_all(t == XS_ERROR ? out : "ANSWERED");
    puts_all("\n");
}

void guest_main(void)
{
    uart_init();
    puts_all("xdm-testguest: hello\n");
    puts_all(uart_present ? "uart: present\n" : "uart: absent (console on port 0xe9 only)\n");
    if (inl(TG_SCRATCH_ID_PORT) == TG_SCRATCH_ID) {
        pio_tests();
        mmio_tests();
    } else {
        puts_all("scratch devices: absent (no device model emulates them)\n");
    }
    pci_tests();
    rtc_tests();
    xenstore_tests();
    puts_all(failures ? "Test result: FAILURE\n" : "Test result: SUCCESS\n");
    outw(TG_DEBUG_EXIT_PORT, failures ? TG_EXIT_FAILURE : TG_EXIT_SUCCESS);
    puts_all("xdm-testguest: still running after the exit request\n");
}
#endif
