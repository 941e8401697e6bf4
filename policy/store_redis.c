/* store_redis.c - placeholder */
#include "store_redis.h"
