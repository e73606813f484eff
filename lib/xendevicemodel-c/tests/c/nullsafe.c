/* SPDX-License-Identifier: MIT */
/* Our library only: NULL handles and NULL outputs give -1 with EINVAL. */
#include <errno.h>
#include <stdio.h>
#include <xendevicemodel.h>

static int failures;
#define N(name, expr) do { errno = 0; int r_ = (expr); int ok_ = r_ == -1 && errno == EINVAL; \
    printf("%s %s (rc=%d errno=%d)\n", ok_ ? "ok" : "FAIL", name, r_, errno); failures += !ok_; } while (0)

int main(void)
{
    xendevicemodel_handle *h = NULL;
    ioservid_t id;
    unsigned int v;
    N("restrict(NULL)", xendevicemodel_restrict(h, 1));
    N("create_ioreq_server(NULL)", xendevicemodel_create_ioreq_server(h, 1, 0, &id));
    N("get_ioreq_server_info(NULL)", xendevicemodel_get_ioreq_server_info(h, 1, 0, NULL, NULL, NULL));
    N("set_isa_irq_level(NULL)", xendevicemodel_set_isa_irq_level(h, 1, 4, 1));
    N("nr_vcpus(NULL)", xendevicemodel_nr_vcpus(h, 1, &v));
    N("shutdown(NULL)", xendevicemodel_shutdown(h, 1, 0));
    printf("%s close(NULL) = 0\n", xendevicemodel_close(NULL) == 0 ? "ok" : "FAIL");
    xendevicemodel_handle *dm = xendevicemodel_open(NULL, 0);
    if (!dm) { perror("open"); return 1; }
    N("create_ioreq_server(id = NULL)", xendevicemodel_create_ioreq_server(dm, 1, 0, NULL));
    N("nr_vcpus(vcpus = NULL)", xendevicemodel_nr_vcpus(dm, 1, NULL));
    N("restrict(DOMID_INVALID)", xendevicemodel_restrict(dm, DOMID_INVALID));
    xendevicemodel_close(dm);
    return failures != 0;
}
