#ifndef PCISTORE_CXENSTORE_SHIM_H
#define PCISTORE_CXENSTORE_SHIM_H
// The one C surface of the project: libxenstore from Debian's libxen-dev.
#include <stdbool.h>
#include <stdint.h>
#include <xenstore.h>
#endif
