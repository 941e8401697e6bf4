/* policy.h - placeholder */
