/* domain_name.h — the hypervisor's name for an instance: every domain tide defines is named
 * DOMAIN_NAME_PREFIX + the instance's name ("tide-web-1"). The drivers (src/agent), which
 * name and list domains, and the metrics, which label series with it, share this one
 * definition. */
#pragma once

#define DOMAIN_NAME_PREFIX "tide-"
