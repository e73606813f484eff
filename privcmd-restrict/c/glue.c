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
#include <xen/xen.h>
#include <xen/xen-ops.h>
#include <xen/xenbus.h>
#include <xen/features.h>
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
	prm_misc.name = devname;
	return misc_register(&prm_misc);
}

void prm_deregister(void)
{
	misc_deregister(&prm_misc);
}

const char *prm_devname(void) { return devname; }

/* The running domain and the caller. */
bool prm_xen_pv_initial_domain(void) { return xen_initial_domain() && xen_pv_domain(); }
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

/*
 * Whether Xen no longer knows domain dom. XENMEM_current_reservation is a
 * stable op that answers -ESRCH exactly then (a domain still dying, kept
 * by mappings of its pages, is known). Any other error counts as gone.
 */
bool prm_domain_gone(u16 dom)
{
	domid_t d = dom;
	long rc = prm_hypercall_memory_op(XENMEM_current_reservation, &d);

	/* Fail closed: an XSM policy that refuses the query ends the fds too. */
	if (rc < 0 && rc != -ESRCH)
		pr_warn_once("privcmd-restrict: cannot query domain %u (%ld): treated as gone\n", dom, rc);
	return rc < 0;
}

/*
 * Domain deaths. xenstored fires @releaseDomain when a domain shuts down or
 * starts dying; Rust then asks Xen which of the domains it cares about are
 * gone. A domain whose pages are still mapped stays dying and may be
 * destroyed later with no event, so while any binding or fd names a domain
 * the check also runs every PRM_RECHECK. The watch is registered once
 * xenstore is up (at once if it is already).
 */
#define PRM_RECHECK (2 * HZ)

static void prm_recheck_fn(struct work_struct *work);
static DECLARE_DELAYED_WORK(prm_recheck, prm_recheck_fn);

static void prm_recheck_fn(struct work_struct *work)
{
	if (prm_rs_domains_changed())
		schedule_delayed_work(&prm_recheck, PRM_RECHECK);
}

/* A binding or an fd now names a domain: keep checking (no-op if queued). */
void prm_schedule_recheck(void)
{
	schedule_delayed_work(&prm_recheck, PRM_RECHECK);
}

static void prm_release_domain(struct xenbus_watch *watch, const char *path, const char *token)
{
	if (prm_rs_domains_changed())
		prm_schedule_recheck();
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

/* Mappings. A vma of ours: set up by prm_vma_setup (mmap of the node). */
#define PRM_VMA_USED ((void *)1)

static vm_fault_t prm_fault(struct vm_fault *vmf)
{
	return VM_FAULT_SIGBUS;
}

static const struct vm_operations_struct prm_vm_ops = {
	.fault = prm_fault,
};

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
 * claim that covers it exactly, which marks it used; later calls (the
 * chunks of a claimed batch, a second ioctl on a used vma) only where
 * nothing is mapped yet. The walk visits existing page tables only, so a
 * check of a large range allocates nothing. Called with the mmap lock held
 * for writing.
 */
static struct vm_area_struct *prm_vma(struct mm_struct *mm, unsigned long addr, unsigned long num, bool claim)
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
		if (!claim || addr != vma->vm_start || addr + len != vma->vm_end)
			return NULL;
		vma->vm_private_data = PRM_VMA_USED;
		return vma;
	}
	if (apply_to_existing_page_range(vma->vm_mm, addr, len, is_mapped_fn, NULL))
		return NULL;
	return vma;
}

/*
 * The first step of every mapping ioctl, before anything is sized by num:
 * [addr, addr + num pages) must be a range of our vma where nothing is
 * mapped (see prm_vma), so num is bounded by what the caller mmapped.
 */
long prm_vma_claim(unsigned long addr, unsigned long num)
{
	struct mm_struct *mm = current->mm;
	long rc;

	mmap_write_lock(mm);
	rc = prm_vma(mm, addr, num, true) ? 0 : -EINVAL;
	mmap_write_unlock(mm);
	return rc;
}

/*
 * IOCTL_PRIVCMD_MMAP_RESOURCE, after Rust's checks (the range claimed, num
 * within the resource): acquires the frames (acquire_arg is a struct
 * xen_mem_acquire_resource built by Rust from dmop-abi, frame_list pointing
 * at mfns) and maps them at addr. PV only.
 */
long prm_map_resource(unsigned long addr, unsigned int num, unsigned int memop, void *acquire_arg,
		      xen_pfn_t *mfns, int *errs, u16 dom)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	long rc = -EINVAL;
	int mapped, i;

	if (xen_feature(XENFEAT_auto_translated_physmap))
		return -EOPNOTSUPP;
	mmap_write_lock(mm);
	vma = prm_vma(mm, addr, num, false);
	if (!vma)
		goto out;
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
 * the last frame, or a stop part-way). PV only.
 */
long prm_map_gfns(unsigned long addr, unsigned int num, xen_pfn_t *gfns, int *errs, u16 dom)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	long rc = -EINVAL;

	if (xen_feature(XENFEAT_auto_translated_physmap))
		return -EOPNOTSUPP;
	mmap_write_lock(mm);
	vma = prm_vma(mm, addr, num, false);
	if (vma)
		rc = xen_remap_domain_gfn_array(vma, addr, gfns, num, errs, vma->vm_page_prot, dom, NULL);
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
