/* SPDX-License-Identifier: GPL-2.0 */
/* The interface between c/glue.c and the Rust code (src/glue.rs, src/main.rs). */
#ifndef PRM_GLUE_H
#define PRM_GLUE_H

#include <linux/types.h>
#include <xen/interface/xen.h>

struct file;
struct inode;
struct vm_area_struct;

/* Which writes an ioeventfd answers: policy::IoeventfdMatch's layout. */
struct prm_match {
	u64 addr;
	u64 mask;
	u64 data;
	u32 len;
	u32 pad;
};

/* C, called from Rust. */
unsigned int prm_param_max_nr_bufs(void);
unsigned int prm_param_buf_max_size(void);
int prm_register(void);
void prm_deregister(void);
const char *prm_devname(void);
bool prm_xen_initial_domain(void);
bool prm_capable_sys_admin(void);
u32 prm_current_fsuid(void);
bool prm_current_in_initial_userns(void);
bool prm_make_kuid(u32 uid, u32 *kuid);
bool prm_fatal_signal_pending(void);
bool prm_access_ok(unsigned long addr, unsigned long size);
long prm_hypercall_dm_op(u16 dom, unsigned int nr_bufs, void *bufs);
long prm_hypercall_memory_op(unsigned int cmd, void *arg);
void prm_vma_setup(struct vm_area_struct *vma);
long prm_vma_claim(unsigned long addr, unsigned long num, u16 dom);
bool prm_domain_gone(u16 dom);
int prm_watch_domains(void);
void prm_unwatch_domains(void);
void prm_schedule_recheck(void);
void *prm_irqfd_new(int fd, u16 dom, const void *owner, const void *op, u32 size, long *err);
bool prm_irqfd_matches(void *irqfd, int fd, u16 dom);
void prm_irqfd_free(void *irqfd);
bool prm_irqfd_hung_up(void *irqfd);
long prm_hypercall_dm_op_atomic(u16 dom, unsigned int nr_bufs, void *bufs);
long prm_map_resource(unsigned long addr, unsigned int num, unsigned int memop, void *acquire_arg,
		      xen_pfn_t *mfns, int *errs, u16 dom);
long prm_map_gfns(unsigned long addr, unsigned int num, xen_pfn_t *gfns, int *errs, u16 dom);
void *prm_ioeventfd_new(void *share, const void *owner, u16 dom, unsigned long uaddr,
			unsigned int vcpus, const u32 *ports, int fd, const struct prm_match *m,
			long *err);
bool prm_ioeventfd_on(void *ioeventfd, u16 dom, unsigned long uaddr);
bool prm_ioeventfd_signals(void *ioeventfd, int fd);
const struct prm_match *prm_ioeventfd_rule(void *ioeventfd);
void prm_ioeventfd_free(void *ioeventfd);
bool prm_ioreqs_check(void);

/* Rust, called from C. */
int prm_rs_open(struct inode *inode, struct file *file);
int prm_rs_release(struct inode *inode, struct file *file);
long prm_rs_ioctl(struct file *file, unsigned int cmd, unsigned long arg);
int prm_rs_mmap(struct file *file, struct vm_area_struct *vma);
ssize_t prm_rs_bindings_show(char *buf, size_t size);
bool prm_rs_domains_changed(void);
void prm_rs_irqfd_fire(const void *owner, u16 dom, void *xbuf);
bool prm_rs_ioeventfd_allowed(const void *owner, u16 dom);
bool prm_rs_ioeventfd_answers(const struct prm_match *m, u64 addr, u32 size, u64 data);

#endif
