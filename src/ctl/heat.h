/* heat.h — OpenStack Heat templates (HOT, YAML) translated into tide's scaling groups, for
 * `tide stack create NAME --template FILE.yaml [--parameter k=v]`. Pure: no I/O, no store; the
 * caller posts each group body to POST /v1/scaling-groups.
 *
 * What a template becomes
 *   Each OS::Heat::AutoScalingGroup becomes one group named "<stack>-<resource>" (always, even
 *   when the template has one group, so that adding a group to a template never renames the
 *   others). Members are named <group>-<n>, so that name has at most HEAT_GROUP_NAME_MAX (58)
 *   characters of A-Z a-z 0-9 . _ - and starts with a letter or digit. Each OS::Heat::ScalingPolicy
 *   merged with the one alarm that names it in alarm_actions becomes one policy of its group,
 *   named after the ScalingPolicy resource. Groups come in the template's order, and so do the
 *   policies of a group.
 *
 *   {"groups": [{"name", "flavor", "image", "user_data", "min", "max", "desired",
 *                "networks": [{"network"}] (when the server has networks),
 *                "policies": [{"name", "metric", "stat", "above" | "below", "for_s",
 *                              "adjust", "cooldown_s", "victim"}]}],
 *    "networks": [{"group", "network", "line"}] (when a server has networks)}
 *
 *   The top-level "networks" says which line of the template names each group's network:
 *   heat is pure, so the caller checks that the networks exist (an unknown one is an error
 *   naming that line) before it posts the groups.
 *
 *   spread, priority and elastic are left to tide's defaults; note that spread defaults to true
 *   (the members on different hosts where possible), which Heat's groups do not do.
 *
 * The subset (anything outside it is an error naming its line, never silently dropped, unless
 * listed as ignored below; "line N" counts from 1)
 *   Top level: heat_template_version (required: 2013-05-23, 2014-10-16, 2015-04-30, 2015-10-15,
 *     2016-04-08, 2016-10-14, 2017-02-24, 2017-09-01, 2018-03-02, 2018-08-31, 2021-04-16 or the
 *     names newton, ocata, pike, queens, rocky, wallaby), resources (required, with at least one
 *     OS::Heat::AutoScalingGroup), parameters; description, parameter_groups and outputs are
 *     ignored. Anything else (conditions, CloudFormation's sections) is an error. One YAML
 *     document; YAML merge keys (<<) are not supported.
 *   parameters: NAME: {type, default, description, label, hidden, constraints, immutable, tags}.
 *     type is string, number, boolean, comma_delimited_list or json; constraints are not checked.
 *     A number's default and given value must be numbers. A --parameter overrides the default; a
 *     parameter with neither is an error naming it, and so is a --parameter the template does not
 *     declare. A comma_delimited_list or json parameter may only be used where the value is
 *     ignored. The pseudo parameter OS::stack_name is the stack's name; OS::stack_id and
 *     OS::project_id may only be used where the value is ignored.
 *   Intrinsic functions: {get_param: NAME} and {get_param: [NAME]} wherever a value is read;
 *     str_replace, str_replace_strict and str_replace_vstrict ({template, params}; longer keys
 *     first, replaced text is not searched again, as in Heat) wherever a string is read;
 *     {get_resource: NAME} only in a policy's auto_scaling_group_id and an alarm's alarm_actions;
 *     {get_attr: [POLICY, alarm_url | signal_url]} only in alarm_actions. Any other function
 *     (get_file, list_join, if, ...) is an error where its value would be read. Numbers may be
 *     written quoted ('-1'), as Heat allows.
 *   Resources: {type, properties}; metadata, depends_on, update_policy, deletion_policy and
 *     description are ignored; condition and external_id are errors. Types other than the four
 *     below are errors; a type naming a template file (x.yaml, a URL) is "nested templates are
 *     not supported".
 *   OS::Heat::AutoScalingGroup: min_size (0-1000) and max_size (1-1000) required, min <= max;
 *     desired_capacity (default min_size, within [min, max]); cooldown (seconds, the default of
 *     its policies); rolling_updates ignored (it only matters on updates); resource required:
 *     {type: OS::Nova::Server, properties: {image, flavor (required), user_data (a string,
 *     default ""), user_data_format (RAW; when absent tide passes user_data as it is, without
 *     Heat's heat-cfntools wrapping; HEAT_CFNTOOLS and SOFTWARE_CONFIG are errors), networks
 *     (a list of at most 8 {network: NAME or id}: each member gets a port on each at a free
 *     address; fixed_ip, port, subnet, uuid and the other keys of a Heat network are errors)}}.
 *     key_name, metadata, name, tags, config_drive, diskConfig, software_config_transport and
 *     the *_update_policy properties of the server are ignored; any other server property
 *     (block_device_mapping, security_groups, scheduler_hints, availability_zone, personality,
 *     admin_pass, ...) is an error because ignoring it would change the members.
 *   OS::Heat::ScalingPolicy: auto_scaling_group_id ({get_resource: GROUP}), adjustment_type and
 *     scaling_adjustment required. change_in_capacity N -> "+N" / "-N" (N not 0);
 *     exact_capacity N -> "=N" (0-1000); percent_change_in_capacity N -> "+N%" / "-N%" (N not 0;
 *     like Heat, tide moves by at least one member). N is an integer. min_adjustment_step may be
 *     0 or 1 (what tide does); more is an error. cooldown (0-86400 s) defaults to the group's
 *     cooldown, else 300 s (tide's default): Heat's "no cooldown" relies on Aodh acting once
 *     when the alarm fires, while a tide policy acts again after every window its condition
 *     holds. victim is "oldest": Heat removes the oldest members first.
 *   OS::Aodh::Alarm and OS::Ceilometer::Alarm (threshold alarms): meter_name cpu_util -> metric
 *     "cpu" and memory_util or memory.util -> "memory" (both percent); "memory" and
 *     "memory.usage" (MB) -> "memory_mib" (the memory the guest uses, MiB: with tide's balloon
 *     what a member is given follows what it uses); any other meter is an error. statistic avg (default),
 *     max or min. for_s = period (default 60) x evaluation_periods (default 1), at most 86400.
 *     threshold required. comparison_operator gt or ge -> "above", lt or le -> "below" (tide
 *     compares strictly); eq, ne or none (Aodh's default is eq) is an error. alarm_actions: a list
 *     of exactly one reference to a ScalingPolicy ({get_attr: [POLICY, alarm_url]}, signal_url, or
 *     {get_resource: POLICY}); that policy takes the alarm's condition. A policy named by several
 *     alarms, or by none ("policy X has no alarm"), is an error. Non-empty ok_actions,
 *     insufficient_data_actions or time_constraints, and enabled: false, are errors;
 *     description, severity, repeat_actions, matching_metadata and query are ignored (a tide
 *     policy measures its own group's members).
 *
 * Limits: a template of at most HEAT_TEMPLATE_MAX bytes; at most 1000 parameters and 1000
 * resources; user_data at most 64 KiB; at most 16 policies per group; at most 100 params per
 * str_replace; functions nested at most 8 deep. Errors are found in passes (sections,
 * parameters, resource types, groups, policies, alarms), so the first one reported is the first
 * of its pass, not always the first line of the template. */
#pragma once

#include <jansson.h>
#include <stddef.h>

#define HEAT_TEMPLATE_MAX (1024 * 1024)
#define HEAT_GROUP_NAME_MAX 58 /* MODEL_NAME_MAX - 5: members are <group>-<n> */

/* Translates the HOT template yaml_text (len bytes, UTF-8; need not be NUL-terminated) for the
 * stack stack_name. parameters is NULL or an object of string values (--parameter k=v), which
 * override the template's defaults; it is only read. On success returns 0 and *ret gets a new
 * object {"groups": [body, ...]}, each body one POST /v1/scaling-groups request (caller
 * decrefs). On failure returns TIDE_E_INVALID, leaves *ret alone and *ret_err gets a message naming the
 * resource and the line, e.g. "line 12: resource 'web_db' of type OS::Nova::Volume is not
 * supported (...)" (caller frees). */
int heat_translate(const char *yaml_text, size_t len, json_t *parameters, const char *stack_name, json_t **ret,
                   char **ret_err);
