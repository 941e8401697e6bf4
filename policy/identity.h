/* identity.h - placeholder */
