// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite of privcmd-restrict: 6.12 has no #[kunit_tests], so each case
 * calls a Rust function that checks the module's logic as compiled into the
 * kernel and returns 0, or the number of the first check that failed.
 */
#include <kunit/test.h>

int prm_kunit_restriction(void);
int prm_kunit_bindings(void);
int prm_kunit_open_policy(void);
int prm_kunit_restrict_uid(void);
int prm_kunit_limits(void);

static void restriction(struct kunit *test) { KUNIT_EXPECT_EQ(test, prm_kunit_restriction(), 0); }
static void bindings(struct kunit *test) { KUNIT_EXPECT_EQ(test, prm_kunit_bindings(), 0); }
static void open_policy(struct kunit *test) { KUNIT_EXPECT_EQ(test, prm_kunit_open_policy(), 0); }
static void restrict_uid(struct kunit *test) { KUNIT_EXPECT_EQ(test, prm_kunit_restrict_uid(), 0); }
static void limits(struct kunit *test) { KUNIT_EXPECT_EQ(test, prm_kunit_limits(), 0); }

static struct kunit_case prm_cases[] = {
	KUNIT_CASE(restriction),
	KUNIT_CASE(bindings),
	KUNIT_CASE(open_policy),
	KUNIT_CASE(restrict_uid),
	KUNIT_CASE(limits),
	{}
};

static struct kunit_suite prm_suite = {
	.name = "privcmd_restrict",
	.test_cases = prm_cases,
};
kunit_test_suite(prm_suite);
