/* sched.c — filters (state, cpu, ram) and a spread weigher over a snapshot of hosts. */
#include "sched.h"

#include "common/errors.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "model/model.h"

enum filter { F_STATE, F_CPU, F_RAM, F_MAX };
static const char *const filter_names[F_MAX] = { "state", "cpu", "ram" };

int sched_pick_host(json_t *hosts, json_t *instances, json_t *inst, char **ret_host, char **ret_reason) {
        int64_t need_cpu = json_int(inst, "vcpus", 1), need_ram = json_int(inst, "ram_mib", 0);
        size_t rejected[F_MAX] = {};
        const char *best = NULL;
        double best_score = -1;
        size_t i;
        json_t *h;

        json_array_foreach(hosts, i, h) {
                const char *name = json_str(h, "name", "");
                int64_t used_cpu = 0, used_ram = 0;
                size_t j;
                json_t *o;
                json_array_foreach(instances, j, o) {
                        if (!streq(json_str(o, "host", ""), name) || streq(json_str(o, "id", ""), json_str(inst, "id", "-")))
                                continue;
                        used_cpu += json_int(o, "vcpus", 0);
                        used_ram += json_int(o, "ram_mib", 0);
                }
                double cap_cpu = (double) json_int(h, "cpus", 0) * 2.0;
                double cap_ram = (double) json_int(h, "mem_mib", 0) * 1.5;
                if (!streq(json_str(h, "state", ""), "up"))
                        rejected[F_STATE]++;
                else if ((double) (used_cpu + need_cpu) > cap_cpu)
                        rejected[F_CPU]++;
                else if ((double) (used_ram + need_ram) > cap_ram)
                        rejected[F_RAM]++;
                else {
                        double score = (cap_ram - (double) (used_ram + need_ram)) / cap_ram;
                        /* Ties go to the first name in order, so decisions are deterministic. */
                        if (score > best_score || (score == best_score && strcmp(name, best) < 0)) {
                                best = name;
                                best_score = score;
                        }
                }
        }
        if (best) {
                *ret_host = xstrdup(best);
                return 0;
        }
        struct strbuf b = STRBUF_INIT(0);
        strbuf_printf(&b, "no valid host: %zu host%s", json_array_size(hosts), json_array_size(hosts) == 1 ? "" : "s");
        const char *sep = "; ";
        for (int f = 0; f < F_MAX; f++) {
                if (!rejected[f])
                        continue;
                strbuf_printf(&b, "%s%zu %s %s", sep, rejected[f], sep[0] == ';' ? "rejected by" : "by",
                              filter_names[f]);
                sep = ", ";
        }
        *ret_reason = strbuf_steal(&b);
        return TIDE_E_NO_HOST;
}
