// SPDX-License-Identifier: GPL-2.0
/*
 * privcmd-restrict: the C side, kept to what Rust cannot reach in Linux
 * 6.12: module parameters (no Rust support yet), the misc device and its
 * file_operations and sysfs attribute (no miscdevice in the bindings), and
 * thin wrappers of static inlines and macros (hypercalls, xen_remap_*,
 * access_ok, credentials, mmap locking). Every decision about restriction,
 * limits, bindings and user memory is made in Rust (src/).
 */
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/uaccess.h>
#include <linux/eventfd.h>
#include <linux/file.h>
#include <linux/notifier.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/workqueue.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/vmalloc.h>
#include <linux/xarray.h>
#include <linux/interrupt.h>
#include <xen/xen.h>
#include <xen/events.h>
#include <xen/interface/event_channel.h>
#include <xen/interface/hvm/ioreq.h>
#include <xen/xen-ops.h>
#include <xen/xenbus.h>
#include <xen/features.h>
#include <xen/page.h>
#include <xen/interface/memory.h>
#include <xen/interface/hvm/dm_op.h>
#include <asm/xen/hypercall.h>
#include "glue.h"

/* Module parameters (read by Rust through the getters below). */
static unsigned int dm_op_max_nr_bufs = 16;
module_param(dm_op_max_nr_bufs, uint, 0644);
MODULE_PARM_DESC(dm_op_max_nr_bufs, "Maximum number of buffers per DM_OP (E2BIG beyond; default 16, as the C privcmd)");

static unsigned int dm_op_buf_max_size = 4096;
module_param(dm_op_buf_max_size, uint, 0644);
MODULE_PARM_DESC(dm_op_buf_max_size, "Maximum size of one DM_OP buffer in bytes (E2BIG beyond; default 4096, as the C privcmd)");

/*
 * An auto-translated dom0 gives each mapped page a pfn of its own: an
 * unpopulated page (its struct page, and on a kernel without
 * CONFIG_XEN_UNPOPULATED_ALLOC, or without Xen's extended regions, a RAM
 * page handed back to Xen for as long as the mapping lives). What all the
 * node's mappings hold together is bounded here, so a confined device
 * model cannot make dom0 give away its memory by mmapping the node large.
 * 0 at load means a quarter of dom0's RAM (set then, so sysfs shows it).
 */
static unsigned long xlate_max_pages;
module_param(xlate_max_pages, ulong, 0644);
MODULE_PARM_DESC(xlate_max_pages, "Auto-translated dom0: pages all mappings of the node may hold together, one guest's at most half (ENOSPC beyond; 0 at load: a quarter of dom0's RAM then; 0 later: none)");

static char *devname = "xen/privcmd-restrict";
module_param(devname, charp, 0444);
MODULE_PARM_DESC(devname, "Name of the device under /dev (default xen/privcmd-restrict)");

unsigned int prm_param_max_nr_bufs(void) { return READ_ONCE(dm_op_max_nr_bufs); }
unsigned int prm_param_buf_max_size(void) { return READ_ONCE(dm_op_buf_max_size); }

static const struct file_operations prm_fops = {
	.owner = THIS_MODULE,
	.open = prm_rs_open,
	.release = prm_rs_release,
	.unlocked_ioctl = prm_rs_ioctl,
	.mmap = prm_rs_mmap,
	.llseek = noop_llseek,
};

static ssize_t bindings_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return prm_rs_bindings_show(buf, PAGE_SIZE);
}
/* Which uid drives which guest is the administrator's business: root only. */
static DEVICE_ATTR_ADMIN_RO(bindings);

static struct attribute *prm_attrs[] = { &dev_attr_bindings.attr, NULL };
ATTRIBUTE_GROUPS(prm);

static struct miscdevice prm_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.fops = &prm_fops,
	/* Anyone may try to open: open() itself decides (restrict-at-open). */
	.mode = 0666,
	.groups = prm_groups,
};

int prm_register(void)
{
	if (!xlate_max_pages)
		xlate_max_pages = totalram_pages() / 4;
	prm_misc.name = devname;
	return misc_register(&prm_misc);
}

void prm_deregister(void)
{
	misc_deregister(&prm_misc);
}

const char *prm_devname(void) { return devname; }

/* The running domain and the caller. */
/*
 * The dom0s the module serves: x86 PV, and Arm's (auto-translated). An x86
 * PVH dom0 is refused: the PV-only ioreq-page path is compiled into a
 * kernel that has CONFIG_XEN_PV, and nothing here was tested there.
 */
bool prm_xen_initial_domain(void)
{
	return xen_initial_domain() && (xen_pv_domain() || IS_ENABLED(CONFIG_ARM64));
}
bool prm_capable_sys_admin(void) { return capable(CAP_SYS_ADMIN); }
/*
 * Identities as the kernel holds them: the opener's fsuid is its kuid_t
 * (init's numbering), never the number its own user namespace shows.
 */
u32 prm_current_fsuid(void) { return __kuid_val(current_fsuid()); }
bool prm_current_in_initial_userns(void) { return current_user_ns() == &init_user_ns; }

/* A uid as the caller's user namespace numbers it, made a kuid_t there. */
bool prm_make_kuid(u32 uid, u32 *kuid)
{
	kuid_t k = make_kuid(current_user_ns(), uid);

	if (!uid_valid(k))
		return false;
	*kuid = __kuid_val(k);
	return true;
}

bool prm_fatal_signal_pending(void) { return fatal_signal_pending(current); }
bool prm_access_ok(unsigned long addr, unsigned long size) { return access_ok((void __user *)addr, size); }

/* Hypercalls, preemptible as the C privcmd makes them. */
long prm_hypercall_dm_op(u16 dom, unsigned int nr_bufs, void *bufs)
{
	long rc;

	xen_preemptible_hcall_begin();
	rc = HYPERVISOR_dm_op(dom, nr_bufs, bufs);
	xen_preemptible_hcall_end();
	return rc;
}

long prm_hypercall_memory_op(unsigned int cmd, void *arg)
{
	long rc;

	xen_preemptible_hcall_begin();
	rc = HYPERVISOR_memory_op(cmd, arg);
	xen_preemptible_hcall_end();
	return rc;
}

/* XENMEM_current_reservation of dom: its page count, or Xen's error. */
static long prm_domain_query(domid_t dom)
{
	domid_t d = dom;

	return prm_hypercall_memory_op(XENMEM_current_reservation, &d);
}

/*
 * Whether Xen no longer knows domain dom. XENMEM_current_reservation is a
 * stable op that answers -ESRCH exactly then (a domain still dying, kept
 * by mappings of its pages, is known). Any other error counts as gone.
 */
bool prm_domain_gone(u16 dom)
{
	long rc = prm_domain_query(dom);

	/* Fail closed: an XSM policy that refuses the query ends the fds too. */
	if (rc < 0 && rc != -ESRCH)
		pr_warn_once("privcmd-restrict: cannot query domain %u (%ld): treated as gone\n", dom, rc);
	return rc < 0;
}

/*
 * Whether Xen certainly no longer knows domain dom: -ESRCH, which Xen
 * answers before any XSM check. Unlike prm_domain_gone, another error
 * (a refusing XSM policy, a reservation past INT_MAX read as negative) is
 * "known": a page count must not be forgotten for a domain that may live,
 * or its next claim would start from nothing.
 */
static bool prm_domain_unknown(domid_t dom)
{
	return prm_domain_query(dom) == -ESRCH;
}

/*
 * Domain deaths. xenstored fires @releaseDomain when a domain shuts down or
 * starts dying; Rust then asks Xen which of the domains it cares about are
 * gone, and the xlate code which of the domains it counts pages for. A
 * domain whose pages are still mapped stays dying and may be destroyed
 * later with no event, so while any binding or fd names a domain, or any
 * domain's page count is in the table, the check also runs every
 * PRM_RECHECK. The watch is registered once xenstore is up (at once if it
 * is already).
 */
#define PRM_RECHECK (2 * HZ)

static void prm_recheck_fn(struct work_struct *work);
static DECLARE_DELAYED_WORK(prm_recheck, prm_recheck_fn);

static bool prm_xlate_forget_gone(void);

static void prm_recheck_fn(struct work_struct *work)
{
	bool more = prm_rs_domains_changed();

	/* Both run: the second is not skipped when the first finds more. */
	if (prm_xlate_forget_gone() || more)
		schedule_delayed_work(&prm_recheck, PRM_RECHECK);
}

/*
 * A binding, an fd or a page count now names a domain: keep checking
 * (no-op if queued).
 */
void prm_schedule_recheck(void)
{
	schedule_delayed_work(&prm_recheck, PRM_RECHECK);
}

/*
 * In the xenwatch thread, which every watch of dom0 shares: the check
 * itself (it takes our locks, and asks Xen about every page and domain)
 * runs from the work queue, now.
 */
static void prm_release_domain(struct xenbus_watch *watch, const char *path, const char *token)
{
	mod_delayed_work(system_wq, &prm_recheck, 0);
}

static struct xenbus_watch prm_watch = {
	.node = "@releaseDomain",
	.callback = prm_release_domain,
};
static bool prm_watching;

static int prm_xenstore_ready(struct notifier_block *nb, unsigned long event, void *data)
{
	int rc = register_xenbus_watch(&prm_watch);

	if (rc)
		pr_err("privcmd-restrict: cannot watch @releaseDomain (%d): fds will not see their guest die\n", rc);
	else
		prm_watching = true;
	return NOTIFY_DONE;
}

static struct notifier_block prm_xenstore_nb = {
	.notifier_call = prm_xenstore_ready,
};

int prm_watch_domains(void)
{
	return register_xenstore_notifier(&prm_xenstore_nb);
}

void prm_unwatch_domains(void)
{
	/* Waits for a running notifier; then no new watch can appear. */
	unregister_xenstore_notifier(&prm_xenstore_nb);
	if (prm_watching)
		unregister_xenbus_watch(&prm_watch);
	/* Safe against the work queueing itself again. */
	cancel_delayed_work_sync(&prm_recheck);
}

/*
 * Mappings. A vma of ours: set up by prm_vma_setup (mmap of the node). Its
 * vm_private_data is NULL until a mapping ioctl claims the whole vma; then
 * PRM_VMA_USED on a PV dom0, or a struct prm_xlate on an auto-translated
 * one (Arm's, x86 PVH).
 */
#define PRM_VMA_USED ((void *)1)

/*
 * An auto-translated dom0 maps a foreign frame by asking Xen to put it at
 * a pfn of its own that has no RAM behind it (an unpopulated page), then
 * mapping that page: one page per page of the vma, allocated at the claim,
 * given back when the vma goes.
 */
struct prm_xlate {
	/* The vma the pages belong to: a copy of it (mremap's) does not own them. */
	struct vm_area_struct *vma;
	/* The domain the pages are counted against (see prm_xlate_account). */
	struct prm_xlate_dom *dom;
	unsigned int nr;
	struct page *pages[];
};

/*
 * One domain's count: the pages of the page lists claimed for it. Found
 * by domid in prm_xlate_doms until the module's check sees the domain gone
 * (prm_xlate_forget_gone); then it leaves the table, so a later
 * domain given that domid starts a count of its own, while the lists
 * still claimed for the old one keep its count until they go. Freed with
 * its last list. Every field under prm_xlate_lock.
 */
struct prm_xlate_dom {
	domid_t domid;
	/* Still in prm_xlate_doms. */
	bool listed;
	/* The page lists that hold it. */
	unsigned long lists;
	unsigned long held;
};

/*
 * What the pages of all prm_xlate lists come to, in all (bounded by
 * xlate_max_pages) and per domain (prm_xlate_doms: domid -> struct
 * prm_xlate_dom, for the domains Xen still knows; bounded by the domain's
 * own size), under prm_xlate_lock.
 */
static DEFINE_MUTEX(prm_xlate_lock);
static unsigned long prm_xlate_held;
static DEFINE_XARRAY(prm_xlate_doms);

/*
 * A domain's mappings may hold as many pages as the domain may have
 * (its maximum reservation) and this many more, for the resources a
 * device model maps besides guest RAM (ioreq pages, a grant table).
 */
#define PRM_XLATE_DOMAIN_EXTRA 1024UL

/*
 * Counts num pages against dom and the total and returns dom's count, held
 * for the caller's page list; or refuses: ENOSPC if either bound would be
 * passed, ESRCH if dom is no domain.
 */
static struct prm_xlate_dom *prm_xlate_account(domid_t dom, unsigned long num)
{
	domid_t d = dom;
	/*
	 * The domain's maximum reservation: Xen answers an unsigned int of
	 * pages through Linux's int. ~0U ("no limit", as dom0's) reads as -1
	 * and leaves the other bounds; so does -EPERM, which is also -1 and
	 * cannot be told from it (still bounded by half the total). Other
	 * errors (ESRCH: no such domain) are returned.
	 */
	int r = HYPERVISOR_memory_op(XENMEM_maximum_reservation, &d);
	struct prm_xlate_dom *acct, *fresh = NULL;
	unsigned long limit, total;
	int rc;

	if (r < 0 && r != -1 && r >= -MAX_ERRNO)
		return ERR_PTR(r);
	/* A first claim for dom needs a count: allocated before the lock. */
	if (!xa_load(&prm_xlate_doms, dom)) {
		fresh = kzalloc(sizeof(*fresh), GFP_KERNEL_ACCOUNT);
		if (!fresh)
			return ERR_PTR(-ENOMEM);
		fresh->domid = dom;
	}
	mutex_lock(&prm_xlate_lock);
	/* Another claim may have made it meanwhile: fresh is freed below. */
	acct = xa_load(&prm_xlate_doms, dom);
	if (!acct && !fresh) {
		/* It left the table meanwhile (the domain check): rare. */
		rc = -ENOMEM;
		fresh = kzalloc(sizeof(*fresh), GFP_KERNEL_ACCOUNT);
		if (!fresh)
			goto out;
		fresh->domid = dom;
	}
	if (!acct)
		acct = fresh;
	total = READ_ONCE(xlate_max_pages);
	/*
	 * A domain's share: its size and some, and never more than half the
	 * total, so one guest's device models cannot hold all of it.
	 */
	limit = min((unsigned long)(unsigned int)r + PRM_XLATE_DOMAIN_EXTRA, total / 2);
	rc = -ENOSPC;
	/* Either count may already be past a bound that was lowered since. */
	if (acct->held >= limit || num > limit - acct->held ||
	    prm_xlate_held >= total || num > total - prm_xlate_held)
		goto out;
	if (acct == fresh) {
		rc = xa_err(xa_store(&prm_xlate_doms, dom, fresh, GFP_KERNEL));
		if (rc)
			goto out;
		fresh->listed = true;
		fresh = NULL;
		/* Dropped from the table when the domain goes: keep checking. */
		prm_schedule_recheck();
	}
	acct->held += num;
	acct->lists++;
	prm_xlate_held += num;
	rc = 0;
out:
	mutex_unlock(&prm_xlate_lock);
	kfree(fresh);
	return rc ? ERR_PTR(rc) : acct;
}

/*
 * Gives back what prm_xlate_account counted for one page list: nr pages
 * of acct's, of which freed came back to dom0 (the rest stay in the
 * total). acct goes with its last list.
 */
static void prm_xlate_unaccount(struct prm_xlate_dom *acct, unsigned long nr, unsigned long freed)
{
	mutex_lock(&prm_xlate_lock);
	acct->held -= min(acct->held, nr);
	prm_xlate_held -= min(prm_xlate_held, freed);
	if (--acct->lists == 0) {
		if (acct->listed)
			xa_erase(&prm_xlate_doms, acct->domid);
		kfree(acct);
	}
	mutex_unlock(&prm_xlate_lock);
}

/*
 * From the domain check (prm_recheck_fn): the counts of domains Xen no
 * longer knows (ESRCH only: see prm_domain_unknown) leave the table (their
 * lists keep them). A domain whose frames a list still maps is known to
 * Xen (dying) until that list goes, so what leaves is the count of lists
 * holding no frame of it. Returns whether any count is left to check.
 */
static bool prm_xlate_forget_gone(void)
{
	struct prm_xlate_dom *acct;
	unsigned long domid;
	bool any = false;

	mutex_lock(&prm_xlate_lock);
	xa_for_each(&prm_xlate_doms, domid, acct) {
		if (prm_domain_unknown((domid_t)domid)) {
			xa_erase(&prm_xlate_doms, domid);
			acct->listed = false;
		} else {
			any = true;
		}
	}
	mutex_unlock(&prm_xlate_lock);
	return any;
}

/*
 * Whether a later mapping for dom may go into xl: dom is the domain xl was
 * claimed for, and Xen still knows it (a list whose domain is gone takes
 * nothing more, not even for a new domain given its domid).
 */
static bool prm_xlate_same_domain(struct prm_xlate *xl, domid_t dom)
{
	bool same;

	mutex_lock(&prm_xlate_lock);
	same = xl->dom->listed && xl->dom->domid == dom;
	mutex_unlock(&prm_xlate_lock);
	return same;
}

static bool prm_auto_translated(void)
{
	return xen_feature(XENFEAT_auto_translated_physmap);
}

/*
 * Removes whatever Xen put at the pfns of pages[0..nr) (nothing there is
 * fine: ENOENT). Linux's xlate unmap ignores Xen's answer; here a page
 * whose entry could not be removed must never be reused. Returns how many
 * were removed; with compact, those are moved to the front of pages (the
 * list is being given back), else the list keeps its order.
 */
static unsigned int prm_xlate_remove(struct page **pages, unsigned int nr, bool compact)
{
	unsigned int i, done = 0;

	for (i = 0; i < nr; i++) {
		struct xen_remove_from_physmap xrp = {
			.domid = DOMID_SELF,
			.gpfn = page_to_xen_pfn(pages[i]),
		};
		int rc = HYPERVISOR_memory_op(XENMEM_remove_from_physmap, &xrp);

		/* A large list is a hypercall per page. */
		cond_resched();
		if (rc && rc != -ENOENT)
			continue;
		if (compact)
			swap(pages[done], pages[i]);
		done++;
	}
	return done;
}

static vm_fault_t prm_fault(struct vm_fault *vmf)
{
	return VM_FAULT_SIGBUS;
}

/*
 * The vma goes (munmap, exit; its page table entries are already gone):
 * Xen's entries at our pfns are removed, whether a frame was put there or
 * not, and the pages go back.
 */
static void prm_vma_close(struct vm_area_struct *vma)
{
	struct prm_xlate *xl = vma->vm_private_data;
	unsigned int removed;

	if (!xl || xl == PRM_VMA_USED)
		return;
	vma->vm_private_data = NULL;
	/*
	 * A refused mremap closes the copy it made of the vma, whose
	 * vm_private_data is the original's: the pages stay the original's.
	 */
	if (xl->vma != vma)
		return;
	removed = prm_xlate_remove(xl->pages, xl->nr, true);
	xen_free_unpopulated_pages(removed, xl->pages);
	/*
	 * Pages Xen would not release stay in the total (dom0 has lost
	 * them) but not in the domain's count.
	 */
	prm_xlate_unaccount(xl->dom, xl->nr, removed);
	xl->dom = NULL;
	if (removed != xl->nr) {
		/* Xen may still have a frame at one of them: keep those pages. */
		pr_crit("privcmd_restrict: %u pages still mapped by Xen: leaking them\n",
			xl->nr - removed);
		return;
	}
	kvfree(xl);
}

/*
 * The page list covers the vma as a whole: a vma holding one is neither
 * split (a partial munmap or mprotect) nor moved (mremap asks after the
 * move, undoes it on our refusal and closes its copy: see prm_vma_close).
 */
static int prm_may_split(struct vm_area_struct *vma, unsigned long addr)
{
	return vma->vm_private_data && vma->vm_private_data != PRM_VMA_USED ? -EINVAL : 0;
}

static int prm_mremap(struct vm_area_struct *vma)
{
	return prm_may_split(vma, 0);
}

static const struct vm_operations_struct prm_vm_ops = {
	.fault = prm_fault,
	.close = prm_vma_close,
	.may_split = prm_may_split,
	.mremap = prm_mremap,
};

/*
 * The page list of a freshly claimed vma of num pages (auto-translated),
 * for a mapping of dom's frames.
 */
static struct prm_xlate *prm_xlate_alloc(unsigned long num, domid_t dom)
{
	struct prm_xlate_dom *acct;
	struct prm_xlate *xl;

	/* One Xen frame per page: Linux's own remap takes no other case here. */
	if (XEN_PFN_PER_PAGE != 1)
		return ERR_PTR(-EOPNOTSUPP);
	/* Linux's xlate helpers count in int. */
	if (num > INT_MAX)
		return ERR_PTR(-EINVAL);
	/* Counted before anything is allocated; given back on failure. */
	acct = prm_xlate_account(dom, num);
	if (IS_ERR(acct))
		return ERR_CAST(acct);
	xl = kvzalloc(struct_size(xl, pages, num), GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!xl)
		goto nomem;
	xl->nr = num;
	xl->dom = acct;
	if (xen_alloc_unpopulated_pages(xl->nr, xl->pages)) {
		kvfree(xl);
		goto nomem;
	}
	return xl;
nomem:
	prm_xlate_unaccount(acct, num, num);
	return ERR_PTR(-ENOMEM);
}

void prm_vma_setup(struct vm_area_struct *vma)
{
	vm_flags_set(vma, VM_IO | VM_PFNMAP | VM_DONTCOPY | VM_DONTEXPAND | VM_DONTDUMP);
	vma->vm_ops = &prm_vm_ops;
	vma->vm_private_data = NULL;
}

static int is_mapped_fn(pte_t *pte, unsigned long addr, void *data)
{
	return pte_none(ptep_get(pte)) ? 0 : -EBUSY;
}

/*
 * Finds our vma at addr, which must be page-aligned, and checks that
 * [addr, addr + num pages) lies inside it with nothing mapped there. A fresh vma is accepted only by a
 * claim that covers it exactly, which marks it used (and, auto-translated,
 * gives it its page list: *err says why that failed); later calls (the
 * chunks of a claimed batch, a second ioctl on a used vma) only where
 * nothing is mapped yet and, auto-translated, only for the domain the
 * page list was claimed for (dom). The walk visits existing page tables only, so a
 * check of a large range allocates nothing. Called with the mmap lock held
 * for writing.
 */
static struct vm_area_struct *prm_vma_err(struct mm_struct *mm, unsigned long addr, unsigned long num,
					  bool claim, domid_t dom, long *err)
{
	struct vm_area_struct *vma = find_vma(mm, addr);
	unsigned long len;

	/*
	 * An unaligned addr is refused: Linux's remap walks whole pages from
	 * addr and would never meet a page-aligned end (the C driver masks it).
	 */
	if (addr & ~PAGE_MASK)
		return NULL;
	if (!vma || vma->vm_ops != &prm_vm_ops || num == 0 || num > (LONG_MAX >> PAGE_SHIFT))
		return NULL;
	len = num << PAGE_SHIFT;
	if (addr < vma->vm_start || addr + len < addr || addr + len > vma->vm_end)
		return NULL;
	if (!vma->vm_private_data) {
		struct prm_xlate *xl;

		if (!claim || addr != vma->vm_start || addr + len != vma->vm_end)
			return NULL;
		if (!prm_auto_translated()) {
			vma->vm_private_data = PRM_VMA_USED;
			return vma;
		}
		xl = prm_xlate_alloc(num, dom);
		if (IS_ERR(xl)) {
			*err = PTR_ERR(xl);
			return NULL;
		}
		xl->vma = vma;
		vma->vm_private_data = xl;
		return vma;
	}
	/*
	 * A page list is counted against the domain it was claimed for: the
	 * frames mapped into it later are that domain's too.
	 */
	if (vma->vm_private_data != PRM_VMA_USED &&
	    !prm_xlate_same_domain(vma->vm_private_data, dom))
		return NULL;
	if (apply_to_existing_page_range(vma->vm_mm, addr, len, is_mapped_fn, NULL))
		return NULL;
	return vma;
}

/* A range of a claimed vma, for frames of dom (see prm_vma_err). */
static struct vm_area_struct *prm_vma(struct mm_struct *mm, unsigned long addr, unsigned long num,
				      domid_t dom)
{
	long err;

	return prm_vma_err(mm, addr, num, false, dom, &err);
}

/* Auto-translated: the pages of [addr, ...) in vma's page list. */
static struct page **prm_xlate_pages(struct vm_area_struct *vma, unsigned long addr)
{
	struct prm_xlate *xl = vma->vm_private_data;

	return &xl->pages[(addr - vma->vm_start) >> PAGE_SHIFT];
}

/*
 * The first step of every mapping ioctl, before anything is sized by num:
 * [addr, addr + num pages) must be a range of our vma where nothing is
 * mapped (see prm_vma), so num is bounded by what the caller mmapped.
 */
long prm_vma_claim(unsigned long addr, unsigned long num, u16 dom)
{
	struct mm_struct *mm = current->mm;
	long rc;

	mmap_write_lock(mm);
	rc = -EINVAL;
	if (prm_vma_err(mm, addr, num, true, dom, &rc))
		rc = 0;
	mmap_write_unlock(mm);
	return rc;
}

struct prm_xlate_map {
	struct page **pages;
	pgprot_t prot;
};

static int prm_xlate_pte(pte_t *pte, unsigned long addr, void *data)
{
	struct prm_xlate_map *m = data;

	set_pte_at(current->mm, addr, pte, pte_mkspecial(pfn_pte(page_to_pfn(*m->pages++), m->prot)));
	return 0;
}

/*
 * IOCTL_PRIVCMD_MMAP_RESOURCE, after Rust's checks (the range claimed, num
 * within the resource): acquires the frames (acquire_arg is a struct
 * xen_mem_acquire_resource built by Rust from dmop-abi, frame_list pointing
 * at mfns) and maps them at addr. A PV dom0 gets the frames' machine
 * numbers and maps those; an auto-translated one names its own pfns in the
 * list (the vma's pages), where Xen puts the frames, and maps its pages.
 */
long prm_map_resource(unsigned long addr, unsigned int num, unsigned int memop, void *acquire_arg,
		      xen_pfn_t *mfns, int *errs, u16 dom)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	long rc = -EINVAL;
	int mapped, i;

	mmap_write_lock(mm);
	vma = prm_vma(mm, addr, num, dom);
	if (!vma)
		goto out;
	if (prm_auto_translated()) {
		struct prm_xlate_map m = { prm_xlate_pages(vma, addr), vma->vm_page_prot };

		struct page **pages = m.pages;

		for (i = 0; i < num; i++)
			mfns[i] = page_to_xen_pfn(pages[i]);
		rc = prm_hypercall_memory_op(memop, acquire_arg);
		if (!rc)
			rc = apply_to_page_range(mm, addr, (unsigned long)num << PAGE_SHIFT,
						 prm_xlate_pte, &m);
		if (rc) {
			/*
			 * Xen keeps the frames it placed before a failure (each
			 * holds the guest's page), and the PTEs set so far stay:
			 * both go, and the range is a hole again.
			 */
			zap_vma_ptes(vma, addr, (unsigned long)num << PAGE_SHIFT);
			if (prm_xlate_remove(pages, num, false) != num)
				pr_crit("privcmd_restrict: a failed resource mapping left frames Xen would not remove\n");
		}
		goto out;
	}
	rc = prm_hypercall_memory_op(memop, acquire_arg);
	if (rc)
		goto out;
	mapped = xen_remap_domain_mfn_array(vma, addr, mfns, num, errs, vma->vm_page_prot, dom);
	if (mapped < 0) {
		rc = mapped;
	} else {
		rc = 0;
		for (i = 0; i < num; i++)
			if (errs[i] < 0) {
				rc = errs[i];
				break;
			}
	}
out:
	mmap_write_unlock(mm);
	return rc;
}

/*
 * IOCTL_PRIVCMD_MMAPBATCH_V2, one chunk of a claimed range, after Rust's
 * checks: maps gfns of dom at addr, per-frame errors into errs. Returns
 * -EINVAL if the range is no longer an unmapped part of our used vma
 * (nothing tried), else xen_remap_domain_gfn_array's own answer, which Rust
 * reads together with errs (a negative answer may be a per-frame error of
 * the last frame, or a stop part-way; auto-translated, the number mapped).
 */
long prm_map_gfns(unsigned long addr, unsigned int num, xen_pfn_t *gfns, int *errs, u16 dom)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	long rc = -EINVAL;
	unsigned int i;

	mmap_write_lock(mm);
	vma = prm_vma(mm, addr, num, dom);
	if (vma && !prm_auto_translated())
		rc = xen_remap_domain_gfn_array(vma, addr, gfns, num, errs, vma->vm_page_prot, dom, NULL);
	if (vma && prm_auto_translated()) {
		rc = xen_remap_domain_gfn_array(vma, addr, gfns, num, errs, vma->vm_page_prot, dom,
						prm_xlate_pages(vma, addr));
		/*
		 * Linux's xlate remap maps a page whose frame Xen refused too:
		 * unmapped again, it is a hole as on PV, and can be retried.
		 */
		for (i = 0; i < num; i++)
			if (errs[i] < 0)
				zap_vma_ptes(vma, addr + ((unsigned long)i << PAGE_SHIFT), PAGE_SIZE);
	}
	mmap_write_unlock(mm);
	return rc;
}

/*
 * IOCTL_PRIVCMD_IRQFD: a DM_OP the kernel makes whenever an eventfd is
 * signalled (a virtio backend's "interrupt the guest"). Each irqfd belongs
 * to one fd of the node (owner) and is torn down with it; Rust checks the
 * owner's restriction, and its guest's life, at every signal, and makes the
 * call on the kernel's own copy of the op (read once at assign).
 */
struct prm_irqfd {
	wait_queue_entry_t wait;
	poll_table pt;
	struct eventfd_ctx *ctx;
	const void *owner;
	u16 dom;
	bool hung_up;
	struct xen_dm_op_buf xbuf;
	u8 op[];
};

static int prm_irqfd_wakeup(wait_queue_entry_t *wait, unsigned int mode, int sync, void *key)
{
	struct prm_irqfd *k = container_of(wait, struct prm_irqfd, wait);
	u64 cnt;

	if (key_to_poll(key) & EPOLLIN) {
		/* Under the eventfd's wait-queue lock: consume the count. */
		eventfd_ctx_do_read(k->ctx, &cnt);
		prm_rs_irqfd_fire(k->owner, k->dom, &k->xbuf);
	}
	/* The eventfd was closed: the owner reaps the irqfd at its next assign. */
	if (key_to_poll(key) & EPOLLHUP)
		WRITE_ONCE(k->hung_up, true);
	return 0;
}

static void prm_irqfd_queue(struct file *file, wait_queue_head_t *wqh, poll_table *pt)
{
	struct prm_irqfd *k = container_of(pt, struct prm_irqfd, pt);

	add_wait_queue(wqh, &k->wait);
}

/*
 * A new irqfd on eventfd fd, making the size-byte DM_OP at op (a kernel
 * buffer Rust read from the caller) on dom; armed at once.
 */
void *prm_irqfd_new(int fd, u16 dom, const void *owner, const void *op, u32 size, long *err)
{
	struct prm_irqfd *k;
	struct fd f;

	k = kzalloc(struct_size(k, op, size), GFP_KERNEL_ACCOUNT);
	if (!k) {
		*err = -ENOMEM;
		return NULL;
	}
	memcpy(k->op, op, size);
	k->xbuf.size = size;
	set_xen_guest_handle(k->xbuf.h, k->op);
	k->dom = dom;
	k->owner = owner;
	f = fdget(fd);
	if (!fd_file(f)) {
		*err = -EBADF;
		goto fail;
	}
	k->ctx = eventfd_ctx_fileget(fd_file(f));
	if (IS_ERR(k->ctx)) {
		*err = PTR_ERR(k->ctx);
		fdput(f);
		goto fail;
	}
	init_waitqueue_func_entry(&k->wait, prm_irqfd_wakeup);
	init_poll_funcptr(&k->pt, prm_irqfd_queue);
	/*
	 * A signal already pending fires now (its count is left: the eventfd's
	 * lock is not ours to take here, and a later signal wakes us anyway).
	 */
	if (vfs_poll(fd_file(f), &k->pt) & EPOLLIN)
		prm_rs_irqfd_fire(k->owner, k->dom, &k->xbuf);
	fdput(f);
	return k;
fail:
	kfree(k);
	return NULL;
}

/* Whether irqfd k is on eventfd fd for dom. */
bool prm_irqfd_matches(void *irqfd, int fd, u16 dom)
{
	struct prm_irqfd *k = irqfd;
	struct eventfd_ctx *ctx = eventfd_ctx_fdget(fd);
	bool same;

	if (IS_ERR(ctx))
		return false;
	same = ctx == k->ctx && dom == k->dom;
	eventfd_ctx_put(ctx);
	return same;
}

/* Whether irqfd k's eventfd has been closed. */
bool prm_irqfd_hung_up(void *irqfd)
{
	struct prm_irqfd *k = irqfd;

	return READ_ONCE(k->hung_up);
}

/* Unhooks and frees irqfd k: once this returns, it never fires again. */
void prm_irqfd_free(void *irqfd)
{
	struct prm_irqfd *k = irqfd;
	u64 cnt;

	eventfd_ctx_remove_wait_queue(k->ctx, &k->wait, &cnt);
	eventfd_ctx_put(k->ctx);
	kfree(k);
}

/* HYPERVISOR_dm_op from atomic context (an eventfd wakeup): not preemptible. */
long prm_hypercall_dm_op_atomic(u16 dom, unsigned int nr_bufs, void *bufs)
{
	return HYPERVISOR_dm_op(dom, nr_bufs, bufs);
}

/*
 * IOCTL_PRIVCMD_IOEVENTFD: the kernel answers a guest write that a virtio
 * backend only needs to hear about (a queue notify) by signalling an
 * eventfd and completing the ioreq itself, so the vCPU goes on without the
 * device model's round trip. Each ioeventfd belongs to one fd of the node
 * (its owner) and is torn down with it; ioeventfds of one owner on one
 * ioreq page share a prm_ioreq: the kernel's own mapping of that page and
 * a handler on each vCPU's event channel, next to the device model's own
 * (the channel stays the device model's: it takes every request the kernel
 * does not). Rust decides what is accepted and what matches.
 *
 * Upstream reads the page through vm_private_data's page list, which a PV
 * dom0's resource mappings do not have (it oopses there); here the frame is
 * read from the caller's page table and mapped into the kernel with
 * mmu_update naming the domain, so Xen itself checks that the page is that
 * domain's. PV only (see prm_ioreq_map).
 */
struct prm_ioreq;

struct prm_ioreq_port {
	struct prm_ioreq *kr;
	evtchn_port_t port;	/* ours, bound by the device model's /dev/xen/evtchn */
	evtchn_port_t remote;	/* the guest's, the slot's vp_eport */
	unsigned int vcpu;
	int irq;		/* >= 0 while our handler is on it */
};

struct prm_ioreq {
	struct list_head all;		/* prm_ioreqs, under prm_ioreq_lock */
	unsigned int users;		/* ioeventfds on it, under prm_ioreq_lock */
	const void *owner;
	u16 dom;
	unsigned long uaddr;		/* the owner's mapping of the page */
	unsigned int vcpus;
	struct page *stand_in;		/* the page vmap mapped before ours */
	struct ioreq *slots;		/* our mapping; NULL once detached */
	spinlock_t lock;		/* the ioeventfds list (the handler reads it) */
	struct list_head ioeventfds;
	struct prm_ioreq_port ports[];
};

struct prm_ioeventfd {
	struct list_head list;		/* kr->ioeventfds, under kr->lock */
	struct prm_ioreq *kr;
	struct eventfd_ctx *ctx;
	struct prm_match m;
};

static LIST_HEAD(prm_ioreqs);
static DEFINE_MUTEX(prm_ioreq_lock);

/* The state byte of a slot: state:4, data_is_ptr:1, dir:1, df:1. */
#define PRM_SLOT_BITS(slot) ((u8 *)(slot) + offsetof(struct ioreq, _pad0) + sizeof(u16))
#define PRM_STATE_MASK 0x0f
#define PRM_DATA_IS_PTR 0x10
#define PRM_DIR_READ 0x20

/* The ioeventfd on kr answering the plain write now in slot, or NULL. Under kr->lock. */
static struct prm_ioeventfd *prm_ioreq_match(struct prm_ioreq *kr, struct ioreq *slot)
{
	struct prm_ioeventfd *e;
	u64 addr, data;
	u32 size;

	if (READ_ONCE(slot->type) != IOREQ_TYPE_COPY || READ_ONCE(slot->count) != 1)
		return NULL;
	addr = READ_ONCE(slot->addr);
	size = READ_ONCE(slot->size);
	data = READ_ONCE(slot->data);
	list_for_each_entry(e, &kr->ioeventfds, list)
		if (prm_rs_ioeventfd_answers(&e->m, addr, size, data))
			return e;
	return NULL;
}

/*
 * A vCPU's channel fired. Only a request an ioeventfd matches is touched:
 * it is claimed READY -> INPROCESS with a compare-and-swap (a device model
 * that took it first, as xendevicemodel's IoreqSlot::begin does with the
 * same swap, keeps it), read again now that it is ours (between the first
 * read and the claim, the device model may have answered that request and
 * Xen written the next), then answered. Every other request is left READY
 * for the device model, which the same event wakes.
 */
static irqreturn_t prm_ioreq_interrupt(int irq, void *dev_id)
{
	struct prm_ioreq_port *p = dev_id;
	struct prm_ioreq *kr = p->kr;
	struct ioreq *slot = &kr->slots[p->vcpu];
	u8 *bits = PRM_SLOT_BITS(slot);
	u8 b = READ_ONCE(*bits);
	struct prm_ioeventfd *e;
	bool answered = false;

	/* Only a plain write: a string or rep access carries guest addresses. */
	if ((b & PRM_STATE_MASK) != STATE_IOREQ_READY || (b & (PRM_DATA_IS_PTR | PRM_DIR_READ)))
		return IRQ_NONE;
	if (!prm_rs_ioeventfd_allowed(kr->owner, kr->dom))
		return IRQ_NONE;
	/* The request is read after its state, as Xen wrote it before. */
	smp_rmb();
	spin_lock(&kr->lock);
	if (prm_ioreq_match(kr, slot) &&
	    cmpxchg(bits, b, (b & ~PRM_STATE_MASK) | STATE_IOREQ_INPROCESS) == b) {
		e = prm_ioreq_match(kr, slot);
		if (e) {
			eventfd_signal(e->ctx);
			answered = true;
		}
		/* The answer (a write has none) before the state, as Xen reads it. */
		smp_wmb();
		WRITE_ONCE(*bits, (b & ~PRM_STATE_MASK) |
			   (answered ? STATE_IORESP_READY : STATE_IOREQ_READY));
	}
	spin_unlock(&kr->lock);
	if (!answered)
		return IRQ_NONE;
	notify_remote_via_evtchn(p->port);
	return IRQ_HANDLED;
}

#ifdef CONFIG_XEN_PV
static int prm_read_mfn(pte_t *pte, unsigned long addr, void *data)
{
	pte_t v = ptep_get(pte);

	if (!pte_present(v))
		return -EINVAL;
	*(unsigned long *)data = pte_mfn(v);
	return 0;
}

/*
 * The ioreq server ids probed for the page's owner: Xen (4.17 to 4.20)
 * has at most MAX_NR_IOREQ_SERVERS = 8 per domain, numbered from 0.
 */
#define PRM_IOREQ_SERVER_IDS 8

/*
 * Whether mfn is the first synchronous ioreq page of one of dom's ioreq
 * servers (frame 1 of XENMEM_resource_ioreq_server): Xen's own answer, so
 * the slots, vp_eport included, are written by Xen alone. A server whose
 * pages were not yet allocated gets them here, as its first resource
 * mapping would; one mapped by legacy gfns answers EPERM and is left alone.
 */
static bool prm_is_ioreq_page(u16 dom, unsigned long mfn)
{
	unsigned int id;

	for (id = 0; id < PRM_IOREQ_SERVER_IDS; id++) {
		xen_pfn_t frame = 0;
		struct xen_mem_acquire_resource q = {
			.domid = dom,
			.type = XENMEM_resource_ioreq_server,
			.id = id,
			.nr_frames = 1,
			.frame = XENMEM_resource_ioreq_server_frame_ioreq(0),
		};

		set_xen_guest_handle(q.frame_list, &frame);
		if (!prm_hypercall_memory_op(XENMEM_acquire_resource, &q) && frame == mfn)
			return true;
	}
	return false;
}

/*
 * Maps the frame the caller maps at kr->uaddr (a vma of ours), which must be
 * an ioreq page of kr->dom, at kr->slots. The mmap lock is held from the
 * PTE's read to our own mapping, so the caller's reference to the frame
 * holds throughout (only munmap, under the write lock, drops it).
 */
static long prm_ioreq_map(struct prm_ioreq *kr)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	unsigned long mfn = ~0UL;
	struct mmu_update u;
	struct mmuext_op flush;
	unsigned int level;
	pte_t *ptep;
	void *va;
	long rc;

	/*
	 * Also compiled into kernels that run auto-translated, where the frame
	 * list of the probe below is an input (Xen would place the page at
	 * dom0's gfn 0): PV only, whatever loaded the module.
	 */
	if (!xen_pv_domain())
		return -EOPNOTSUPP;
	kr->stand_in = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
	if (!kr->stand_in)
		return -ENOMEM;
	/*
	 * A kernel address whose PTE is then pointed at the foreign frame
	 * (get_vm_area is not exported): vmap a page of ours first. VM_IOREMAP
	 * keeps vread (/proc/kcore) off the area.
	 */
	va = vmap(&kr->stand_in, 1, VM_IOREMAP, PAGE_KERNEL);
	if (!va) {
		rc = -ENOMEM;
		goto free_page;
	}
	ptep = lookup_address((unsigned long)va, &level);
	if (!ptep || level != PG_LEVEL_4K) {
		rc = -EFAULT;
		goto unmap;
	}

	if (mmap_read_lock_killable(mm)) {
		rc = -EINTR;
		goto unmap;
	}
	vma = vma_lookup(mm, kr->uaddr);
	if (!vma || vma->vm_ops != &prm_vm_ops)
		rc = -EINVAL;
	else
		rc = apply_to_existing_page_range(mm, kr->uaddr, PAGE_SIZE, prm_read_mfn, &mfn);
	if (!rc && (mfn == ~0UL || !prm_is_ioreq_page(kr->dom, mfn)))
		rc = -EINVAL;	/* nothing mapped there, or no ioreq page of dom's */
	if (!rc) {
		/*
		 * A machine frame (an HVM guest's ioreq page is in no p2m of its,
		 * so it cannot be named by gfn): NO_TRANSLATE, as Linux's own
		 * remap of resource frames. Xen takes the page from dom.
		 */
		u.ptr = arbitrary_virt_to_machine(ptep).maddr | MMU_PT_UPDATE_NO_TRANSLATE;
		u.val = pte_val_ma(mfn_pte(mfn, PAGE_KERNEL));
		if (HYPERVISOR_mmu_update(&u, 1, NULL, kr->dom))
			rc = -EINVAL;
	}
	mmap_read_unlock(mm);
	if (rc)
		goto unmap;
	flush.cmd = MMUEXT_INVLPG_ALL;
	flush.arg1.linear_addr = (unsigned long)va;
	if (HYPERVISOR_mmuext_op(&flush, 1, NULL, DOMID_SELF)) {
		/* A stale entry could still reach the stand-in: give both up. */
		rc = -EIO;
		goto unmap;
	}
	kr->slots = va;
	return 0;
unmap:
	vunmap(va);
free_page:
	__free_page(kr->stand_in);
	kr->stand_in = NULL;
	return rc;
}

#else
/*
 * Arm's dom0 maps no machine frame into a kernel page table: reaching the
 * ioreq page needs a foreign mapping of the kernel's own (an unpopulated
 * page), which this module does not make yet. IOCTL_PRIVCMD_IOEVENTFD
 * answers EOPNOTSUPP there.
 */
static long prm_ioreq_map(struct prm_ioreq *kr)
{
	return -EOPNOTSUPP;
}
#endif /* CONFIG_XEN_PV */

/* Whether our port is an interdomain channel to remote port of dom. */
static bool prm_port_is(evtchn_port_t port, u16 dom, evtchn_port_t remote)
{
	struct evtchn_status st = { .dom = DOMID_SELF, .port = port };

	if (HYPERVISOR_event_channel_op(EVTCHNOP_status, &st))
		return false;
	return st.status == EVTCHNSTAT_interdomain && st.u.interdomain.dom == dom &&
	       st.u.interdomain.port == remote;
}

/*
 * Unhooks the handlers (free_irq waits for a running one) and unmaps the
 * page: afterwards the guest's pages are no longer held by us. Idempotent;
 * under prm_ioreq_lock once kr is on the list.
 */
static void prm_ioreq_detach(struct prm_ioreq *kr)
{
	unsigned int i;

	for (i = 0; i < kr->vcpus; i++)
		if (kr->ports[i].irq >= 0) {
			unbind_from_irqhandler(kr->ports[i].irq, &kr->ports[i]);
			kr->ports[i].irq = -1;
		}
	if (kr->slots) {
		/* Clearing the PTE drops Xen's reference on the guest's frame. */
		vunmap(kr->slots);
		__free_page(kr->stand_in);
		kr->slots = NULL;
	}
}

/*
 * Each port must be refcounted by the evtchn device (evtchn_get: a port a
 * kernel driver bound is refused, and stays bound while we look at it) and
 * be an interdomain channel to this vCPU's vp_eport in dom.
 */
static long prm_ioreq_bind(struct prm_ioreq *kr, const u32 *ports)
{
	struct prm_ioreq *other;
	unsigned int i, j;
	int irq;

	/*
	 * One handler of ours per channel, module-wide (under prm_ioreq_lock):
	 * each bind takes a reference on the port's irq_info, a short that
	 * must not be driven towards its limit, and each handler runs at every
	 * event.
	 */
	for (i = 0; i < kr->vcpus; i++)
		for (j = 0; j < i; j++)
			if (ports[j] == ports[i])
				return -EINVAL;
	for (i = 0; i < kr->vcpus; i++) {
		struct prm_ioreq_port *p = &kr->ports[i];
		bool taken = false;

		p->kr = kr;
		p->vcpu = i;
		p->port = ports[i];
		p->remote = READ_ONCE(kr->slots[i].vp_eport);
		if (evtchn_get(p->port))
			return -EINVAL;
		if (!prm_port_is(p->port, kr->dom, p->remote)) {
			evtchn_put(p->port);
			return -EINVAL;
		}
		/* Asked only of a port to this guest: says nothing of others'. */
		list_for_each_entry(other, &prm_ioreqs, all) {
			for (j = 0; j < other->vcpus; j++)
				taken |= other->ports[j].irq >= 0 && other->ports[j].port == p->port;
			cond_resched();
		}
		if (taken) {
			evtchn_put(p->port);
			return -EBUSY;
		}
		irq = bind_evtchn_to_irqhandler_lateeoi(p->port, prm_ioreq_interrupt, IRQF_SHARED,
							"privcmd-restrict:ioeventfd", p);
		evtchn_put(p->port);
		if (irq < 0)
			return irq;
		p->irq = irq;
	}
	return 0;
}

/*
 * A new ioeventfd on eventfd fd answering m, owned by owner, on dom's ioreq
 * page at uaddr with vcpus ports (a kernel copy Rust read once). share is
 * an ioeventfd of the same owner on that page, or NULL: then the page is
 * mapped and the ports hooked. Called under Rust's eventfd lock.
 */
void *prm_ioeventfd_new(void *share, const void *owner, u16 dom, unsigned long uaddr,
			unsigned int vcpus, const u32 *ports, int fd, const struct prm_match *m,
			long *err)
{
	struct prm_ioreq *kr, *fresh = NULL;
	struct prm_ioeventfd *e;
	unsigned long flags;
	unsigned int i;
	long rc;

	e = kzalloc(sizeof(*e), GFP_KERNEL_ACCOUNT);
	if (!e) {
		*err = -ENOMEM;
		return NULL;
	}
	e->m = *m;
	e->ctx = eventfd_ctx_fdget(fd);
	if (IS_ERR(e->ctx)) {
		*err = PTR_ERR(e->ctx);
		kfree(e);
		return NULL;
	}
	if (!share) {
		fresh = kzalloc(struct_size(fresh, ports, vcpus), GFP_KERNEL_ACCOUNT);
		if (!fresh) {
			rc = -ENOMEM;
			goto put;
		}
		fresh->owner = owner;
		fresh->dom = dom;
		fresh->uaddr = uaddr;
		fresh->vcpus = vcpus;
		spin_lock_init(&fresh->lock);
		INIT_LIST_HEAD(&fresh->ioeventfds);
		for (i = 0; i < vcpus; i++)
			fresh->ports[i].irq = -1;
		/* Nothing shared yet: mapped before our lock (it takes the mmap lock). */
		rc = prm_ioreq_map(fresh);
		if (rc)
			goto put;
	}
	mutex_lock(&prm_ioreq_lock);
	if (share) {
		kr = ((struct prm_ioeventfd *)share)->kr;
		rc = 0;
		if (kr->vcpus != vcpus)
			rc = -EINVAL;
		for (i = 0; !rc && i < vcpus; i++)
			if (kr->ports[i].port != ports[i])
				rc = -EINVAL;
		/* Detached: its guest is dying. */
		if (!rc && !kr->slots)
			rc = -ESRCH;
		if (rc)
			goto unlock;
	} else {
		kr = fresh;
		rc = prm_ioreq_bind(kr, ports);
		if (rc) {
			/* Under the lock: no handler of a failed bind outlives it. */
			prm_ioreq_detach(kr);
			goto unlock;
		}
		list_add(&kr->all, &prm_ioreqs);
		fresh = NULL;
	}
	kr->users++;
	e->kr = kr;
	spin_lock_irqsave(&kr->lock, flags);
	list_add_tail(&e->list, &kr->ioeventfds);
	spin_unlock_irqrestore(&kr->lock, flags);
	mutex_unlock(&prm_ioreq_lock);
	return e;
unlock:
	mutex_unlock(&prm_ioreq_lock);
put:
	if (fresh) {
		prm_ioreq_detach(fresh);
		kfree(fresh);
	}
	eventfd_ctx_put(e->ctx);
	kfree(e);
	*err = rc;
	return NULL;
}

/* Whether ioeventfd e is on dom's ioreq page at uaddr. */
bool prm_ioeventfd_on(void *ioeventfd, u16 dom, unsigned long uaddr)
{
	struct prm_ioeventfd *e = ioeventfd;

	return e->kr->dom == dom && e->kr->uaddr == uaddr;
}

/* Whether ioeventfd e signals eventfd fd. */
bool prm_ioeventfd_signals(void *ioeventfd, int fd)
{
	struct prm_ioeventfd *e = ioeventfd;
	struct eventfd_ctx *ctx = eventfd_ctx_fdget(fd);
	bool same;

	if (IS_ERR(ctx))
		return false;
	same = ctx == e->ctx;
	eventfd_ctx_put(ctx);
	return same;
}

/* The rule ioeventfd e answers. */
const struct prm_match *prm_ioeventfd_rule(void *ioeventfd)
{
	return &((struct prm_ioeventfd *)ioeventfd)->m;
}

/* Unhooks and frees ioeventfd e (and its page's state with the last one). */
void prm_ioeventfd_free(void *ioeventfd)
{
	struct prm_ioeventfd *e = ioeventfd;
	struct prm_ioreq *kr = e->kr, *gone = NULL;
	unsigned long flags;

	spin_lock_irqsave(&kr->lock, flags);
	list_del(&e->list);
	spin_unlock_irqrestore(&kr->lock, flags);
	eventfd_ctx_put(e->ctx);
	kfree(e);
	mutex_lock(&prm_ioreq_lock);
	if (--kr->users == 0) {
		prm_ioreq_detach(kr);
		list_del(&kr->all);
		gone = kr;
	}
	mutex_unlock(&prm_ioreq_lock);
	kfree(gone);
}

/*
 * The death check (process context): a guest that dies closes its event
 * channels at once, so a port no longer connected to its vp_eport means
 * the guest is dying, and our mapping of its page goes now (it would keep
 * the dying domain's memory held). Returns whether any page is still
 * mapped, so the periodic check goes on.
 */
bool prm_ioreqs_check(void)
{
	struct prm_ioreq *kr;
	bool mapped = false;

	mutex_lock(&prm_ioreq_lock);
	list_for_each_entry(kr, &prm_ioreqs, all) {
		cond_resched();
		if (!kr->slots)
			continue;
		/* A dying guest's channels all close at once: vCPU 0's tells. */
		if (!prm_port_is(kr->ports[0].port, kr->dom, kr->ports[0].remote)) {
			pr_info("privcmd-restrict: domain %u's ioreq channels closed: its ioeventfds stop\n",
				kr->dom);
			prm_ioreq_detach(kr);
		}
		mapped |= kr->slots != NULL;
	}
	mutex_unlock(&prm_ioreq_lock);
	return mapped;
}
