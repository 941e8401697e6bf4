/* identity.c - placeholder */
#include "identity.h"
