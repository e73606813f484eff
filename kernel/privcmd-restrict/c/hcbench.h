/* SPDX-License-Identifier: GPL-2.0 */
/* The Rust half of privcmd_restrict_hcbench.ko (src/hcbench.rs). */
#ifndef PRM_HCBENCH_H
#define PRM_HCBENCH_H

#include <linux/types.h>

size_t prm_hcbench_op_size(void);
void prm_hcbench_op(void *op, u32 pages);

#endif
