// SPDX-License-Identifier: GPL-2.0
/*
 * privcmd_restrict_hcbench.ko: test-only, for the benchmarks (the
 * benchmark image loads it; nothing ships it). At load it makes
 * bench-privcmd's DM_OP on domain dom, iterations times, from kernel
 * buffers: the bare hypercall, no driver around it. It prints the time per
 * call, which bench-privcmd subtracts from each driver's.
 */
#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <xen/xen.h>
#include <xen/xen-ops.h>
#include <xen/interface/hvm/dm_op.h>
#include <asm/xen/hypercall.h>
#include "hcbench.h"

static int dom = -1;
module_param(dom, int, 0444);
MODULE_PARM_DESC(dom, "The guest the op is made on");
static uint pages;
module_param(pages, uint, 0444);
MODULE_PARM_DESC(pages, "0: nr_vcpus; else track_dirty_vram of this many pages, 4 KiB bitmap");
static uint iterations = 20000;
module_param(iterations, uint, 0444);
MODULE_PARM_DESC(iterations, "Calls timed");

static int __init prm_hcbench_init(void)
{
	struct xen_dm_op_buf bufs[2];
	void *op, *bitmap;
	u64 t0, t1;
	long rc = 0;
	uint i;

	if (!xen_initial_domain() || dom <= 0 || dom >= DOMID_FIRST_RESERVED || !iterations)
		return -EINVAL;
	op = kzalloc(prm_hcbench_op_size(), GFP_KERNEL);
	bitmap = kzalloc(PAGE_SIZE, GFP_KERNEL);
	if (!op || !bitmap) {
		rc = -ENOMEM;
		goto out;
	}
	prm_hcbench_op(op, pages);
	set_xen_guest_handle(bufs[0].h, op);
	bufs[0].size = prm_hcbench_op_size();
	set_xen_guest_handle(bufs[1].h, bitmap);
	bufs[1].size = PAGE_SIZE;
	t0 = ktime_get_ns();
	for (i = 0; i < iterations && rc >= 0; i++) {
		xen_preemptible_hcall_begin();
		rc = HYPERVISOR_dm_op(dom, pages ? 2 : 1, bufs);
		xen_preemptible_hcall_end();
		cond_resched();
	}
	t1 = ktime_get_ns();
	if (rc < 0)
		pr_err("privcmd-restrict-hcbench: dom %d pages %u: the op failed (%ld)\n", dom, pages, rc);
	else
		pr_info("privcmd-restrict-hcbench: dom %d pages %u: %llu ns per call (%u calls)\n",
			dom, pages, div_u64(t1 - t0, iterations), iterations);
out:
	kfree(bitmap);
	kfree(op);
	return rc < 0 ? rc : 0;
}

static void __exit prm_hcbench_exit(void)
{
}

module_init(prm_hcbench_init);
module_exit(prm_hcbench_exit);
MODULE_DESCRIPTION("privcmd-restrict: the bare DM_OP hypercall's time, for the benchmarks");
MODULE_LICENSE("GPL");
