// SPDX-License-Identifier: GPL-2.0
/*
 * privcmd_restrict_kunit.ko: the KUnit suite of privcmd-restrict, a test
 * module of its own so that the production module never taints a kernel.
 * 6.12 has no #[kunit_tests]: each case calls a Rust function
 * (src/kunit.rs, which compiles the module's policy code) that returns 0,
 * or the number of the first check that failed.
 */
#include <kunit/test.h>
#include <linux/module.h>
#include "kunit.h"

static void restriction(struct kunit *test) { KUNIT_EXPECT_EQ(test, prm_kunit_restriction(), 0); }
static void bindings(struct kunit *test) { KUNIT_EXPECT_EQ(test, prm_kunit_bindings(), 0); }
static void open_policy(struct kunit *test) { KUNIT_EXPECT_EQ(test, prm_kunit_open_policy(), 0); }
static void restrict_uid(struct kunit *test) { KUNIT_EXPECT_EQ(test, prm_kunit_restrict_uid(), 0); }
static void limits(struct kunit *test) { KUNIT_EXPECT_EQ(test, prm_kunit_limits(), 0); }
static void ioeventfd(struct kunit *test) { KUNIT_EXPECT_EQ(test, prm_kunit_ioeventfd(), 0); }

static struct kunit_case prm_cases[] = {
	KUNIT_CASE(restriction),
	KUNIT_CASE(bindings),
	KUNIT_CASE(open_policy),
	KUNIT_CASE(restrict_uid),
	KUNIT_CASE(limits),
	KUNIT_CASE(ioeventfd),
	{}
};

static struct kunit_suite prm_suite = {
	.name = "privcmd_restrict",
	.test_cases = prm_cases,
};
kunit_test_suite(prm_suite);

MODULE_DESCRIPTION("KUnit suite of privcmd-restrict");
MODULE_LICENSE("GPL");
