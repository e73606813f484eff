/* SPDX-License-Identifier: GPL-2.0 */
/* The Rust halves of the KUnit cases (src/kunit.rs): 0, or the first failing check. */
#ifndef PRM_KUNIT_H
#define PRM_KUNIT_H

int prm_kunit_restriction(void);
int prm_kunit_bindings(void);
int prm_kunit_open_policy(void);
int prm_kunit_restrict_uid(void);
int prm_kunit_limits(void);
int prm_kunit_ioeventfd(void);

#endif
