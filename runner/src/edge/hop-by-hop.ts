/**
 * Hop-by-hop headers (RFC 9110 §7.6.1) go no further than the edge, in either direction, as through the adapter
 * (adapter/forward/forward-headers.ts). HAProxy itself takes out Connection's own tokens (keep-alive, close)
 * and carries upgrades; these rules take out the rest.
 */
export function hopByHopRules(): string[] {
  return [
    `  http-request del-header ${FIXED} -m reg`,
    `  http-request lua.${DROP_NAMED_REQUEST} if { req.hdr(connection) -m reg -i ${NAMES_OTHERS} }`,
    `  http-response del-header ${FIXED} -m reg`,
    `  http-response lua.${DROP_NAMED_RESPONSE} if { res.hdr(connection) -m reg -i ${NAMES_OTHERS} }`,
  ];
}

/** One pass over the headers (names are lower case in HAProxy): one rule per name would be one pass each. */
const FIXED = '^(keep-alive|te|trailer|proxy-.*)$';
/** A Connection token other than upgrade (HAProxy has already taken keep-alive and close out). */
const NAMES_OTHERS = '^(?!upgrade$)';
const DROP_NAMED_REQUEST = 'drop_connection_named_req';
const DROP_NAMED_RESPONSE = 'drop_connection_named_res';

/**
 * The headers a Connection header names, and the Connection header itself (upgrade kept for HAProxy): no
 * configuration keyword can delete a header whose name comes from the message, so a Lua action does, only for
 * messages whose Connection names something.
 */
export function hopByHopLua(): string {
  return `local own = { ["keep-alive"] = true, ["close"] = true, ["upgrade"] = true }

local function clean(headers, delete, set)
  local upgrade = false
  for _, value in pairs(headers["connection"] or {}) do
    for token in string.gmatch(value, "[^,%s]+") do
      token = string.lower(token)
      if token == "upgrade" then upgrade = true end
      if not own[token] then delete(token) end
    end
  end
  delete("connection")
  if upgrade then set("connection", "upgrade") end
end

core.register_action("${DROP_NAMED_REQUEST}", { "http-req" }, function(txn)
  local http = txn.http
  clean(http:req_get_headers(),
    function(name) http:req_del_header(name) end,
    function(name, value) http:req_set_header(name, value) end)
end)

core.register_action("${DROP_NAMED_RESPONSE}", { "http-res" }, function(txn)
  local http = txn.http
  clean(http:res_get_headers(),
    function(name) http:res_del_header(name) end,
    function(name, value) http:res_set_header(name, value) end)
end)
`;
}
