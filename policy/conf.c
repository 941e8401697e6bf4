/* conf.c - placeholder */
#include "conf.h"
