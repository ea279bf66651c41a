#ifndef PCISTORE_CXENCTRL_SHIM_H
#define PCISTORE_CXENCTRL_SHIM_H
// libxenctrl from Debian's libxen-dev, for one thing only: Xen's quarantine
// of assignable devices (assign to / deassign from DOMID_IO), as xl does it.
#include <stdbool.h>
#include <stdint.h>
#include <xenctrl.h>
#endif
