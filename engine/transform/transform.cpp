#include "transform/transform.h"

#include "core/clock.h"
#include "core/log.h"
#include "redis/command_keys.h"
#include "task/key_selection.h"

#include <fmt/format.h>

#include <lua.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace ferry {
namespace {

// The helpers a script gets, in Lua (the C ones, match, now_ms and log, are set before it runs).
// The chunk returns the drop sentinel.
constexpr const char* kPrelude = R"lua(
local F = ferry
local DROP = setmetatable({}, {__tostring = function() return "ferry.drop()" end})

function F.drop() return DROP end

-- A copy of a record or a command, to return beside the original.
function F.copy(r)
  local c = {}
  for k, v in pairs(r) do c[k] = v end
  if r.name == nil then
    c.value = r.value
    if type(c.value) == "table" then
      local v = {}
      for k, x in pairs(c.value) do v[k] = x end
      c.value = v
    end
  else
    c.args = table.move(r.args, 1, #r.args, 1, {})
    c.keys = table.move(r.keys, 1, #r.keys, 1, {})
  end
  return c
end

-- The key names of a record or a command.
function F.keys(r)
  if r.name == nil then return {r.key} end
  local out = {}
  for _, i in ipairs(r.keys) do out[#out + 1] = r.args[i] end
  return out
end

-- Renames every key of a record or a command (every key position: multi-key commands, the sources
-- of SUNIONSTORE & co., a script's KEYS): fn(key) returns the new name, or nil to keep it.
function F.rename(r, fn)
  local function renamed(k)
    local n = fn(k)
    if n == nil then return k end
    if type(n) ~= "string" then
      error("ferry.rename: the function returned a " .. type(n) .. " for key '" .. k .. "' (a string, or nil to keep it)", 3)
    end
    return n
  end
  if r.name == nil then
    r.key = renamed(r.key)
  else
    for _, i in ipairs(r.keys) do r.args[i] = renamed(r.args[i]) end
  end
  return r
end

function F.rename_prefix(r, from, to)
  local n = #from
  return F.rename(r, function(k)
    if k:sub(1, n) == from then return to .. k:sub(n + 1) end
  end)
end

-- Keys expire at most `ms` milliseconds from now: a record's expiry, and every expiry a command
-- sets (EXPIRE & co., SET/GETEX EX PX EXAT PXAT, SETEX, PSETEX, RESTORE). No expiry stays none.
function F.cap_ttl(r, ms)
  local limit = F.now_ms() + ms
  if r.name == nil then
    if r.expire_ms ~= nil and r.expire_ms > limit then r.expire_ms = limit end
    return r
  end
  local a, name = r.args, string.upper(r.name)
  local function num(i) return math.tointeger(tonumber(a[i])) end
  if (name == "EXPIRE" or name == "PEXPIRE") and #a >= 2 then
    local v = num(2)
    if v and v * (name == "EXPIRE" and 1000 or 1) > ms then r.name, a[2] = "PEXPIRE", tostring(ms) end
  elseif (name == "EXPIREAT" or name == "PEXPIREAT") and #a >= 2 then
    local v = num(2)
    if v and v * (name == "EXPIREAT" and 1000 or 1) > limit then r.name, a[2] = "PEXPIREAT", tostring(limit) end
  elseif (name == "SETEX" or name == "PSETEX") and #a >= 3 then
    local v = num(2)
    if v and v * (name == "SETEX" and 1000 or 1) > ms then r.name, a[2] = "PSETEX", tostring(ms) end
  elseif name == "SET" or name == "GETEX" then
    local i = name == "SET" and 3 or 2
    while i < #a do
      local opt, v = string.upper(a[i]), num(i + 1)
      if v and (opt == "EX" or opt == "PX") then
        if v * (opt == "EX" and 1000 or 1) > ms then a[i], a[i + 1] = "PX", tostring(ms) end
        i = i + 1
      elseif v and (opt == "EXAT" or opt == "PXAT") then
        if v * (opt == "EXAT" and 1000 or 1) > limit then a[i], a[i + 1] = "PXAT", tostring(limit) end
        i = i + 1
      end
      i = i + 1
    end
  elseif name == "RESTORE" and #a >= 3 then
    local v, abs = num(2), false
    for j = 4, #a do if string.upper(a[j]) == "ABSTTL" then abs = true end end
    if v and v > 0 then
      if abs and v > limit then a[2] = tostring(limit) elseif not abs and v > ms then a[2] = tostring(ms) end
    end
  end
  return r
end

print = F.log

local blocked = {io = true, os = true, require = true, package = true, debug = true, dofile = true, loadfile = true,
                 load = true, collectgarbage = true}
setmetatable(_G, {__index = function(_, name)
  if blocked[name] then
    error("'" .. tostring(name) .. "' is not available: a transform runs sandboxed (no io, os, require, debug or loading code)", 2)
  end
end})

return DROP
)lua";

Transform* self_of(lua_State* L) { return *static_cast<Transform**>(lua_getextraspace(L)); }

void* limited_alloc(void* ud, void* ptr, size_t osize, size_t nsize) {
  auto* m = static_cast<Transform::Memory*>(ud);
  const size_t old = ptr ? osize : 0;
  if (nsize == 0) {
    std::free(ptr);
    m->used -= old;
    return nullptr;
  }
  if (nsize > old && m->used - old + nsize > m->limit) return nullptr;  // Lua raises "not enough memory"
  void* p = std::realloc(ptr, nsize);
  if (p) m->used = m->used - old + nsize;
  return p;
}

int lua_match(lua_State* L) {
  size_t kn = 0, pn = 0;
  const char* key = luaL_checklstring(L, 1, &kn);
  const char* pattern = luaL_checklstring(L, 2, &pn);
  lua_pushboolean(L, glob_match({pattern, pn}, {key, kn}));
  return 1;
}

int lua_now_ms(lua_State* L) {
  lua_pushinteger(L, unix_ms());
  return 1;
}

int lua_log(lua_State* L) {
  std::string line;
  for (int i = 1, n = lua_gettop(L); i <= n; ++i) {
    size_t len = 0;
    const char* s = luaL_tolstring(L, i, &len);
    if (i > 1) line += ' ';
    line.append(s, len);
    lua_pop(L, 1);
  }
  log::info("transform: {}", log::printable(line, 400));
  return 0;
}

long long now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::optional<KeyType> type_named(const std::string& name) {
  if (name == "zset" || name == "sorted set") return KeyType::ZSet;
  return key_type_from_name(name);
}

// Sets, sorted sets and hashes compare as sets.
KeyValue canonical(KeyValue v, KeyType type) {
  if (type == KeyType::Set) std::sort(v.members.begin(), v.members.end());
  std::sort(v.scored.begin(), v.scored.end());
  std::sort(v.fields.begin(), v.fields.end());
  return v;
}

void push_string(lua_State* L, const std::string& s) { lua_pushlstring(L, s.data(), s.size()); }

void push_value(lua_State* L, KeyType type, const KeyValue& v) {
  switch (type) {
    case KeyType::String: push_string(L, v.string); return;
    case KeyType::List:
    case KeyType::Set:
      lua_createtable(L, static_cast<int>(v.members.size()), 0);
      for (size_t i = 0; i < v.members.size(); ++i) {
        push_string(L, v.members[i]);
        lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
      }
      return;
    case KeyType::ZSet:
      lua_createtable(L, 0, static_cast<int>(v.scored.size()));
      for (const auto& [m, s] : v.scored) {
        push_string(L, m);
        lua_pushnumber(L, s);
        lua_rawset(L, -3);
      }
      return;
    case KeyType::Hash:
      lua_createtable(L, 0, static_cast<int>(v.fields.size()));
      for (const auto& [f, x] : v.fields) {
        push_string(L, f);
        push_string(L, x);
        lua_rawset(L, -3);
      }
      return;
    case KeyType::Stream: lua_pushnil(L); return;
  }
}

// A string or a number at `idx` as bytes; nullopt for anything else. Does not convert in place.
std::optional<std::string> string_at(lua_State* L, int idx) {
  int t = lua_type(L, idx);
  if (t != LUA_TSTRING && t != LUA_TNUMBER) return std::nullopt;
  lua_pushvalue(L, idx);
  size_t n = 0;
  const char* s = lua_tolstring(L, -1, &n);
  std::string out(s, n);
  lua_pop(L, 1);
  return out;
}

// The value at `idx` as a value of `type`; an error message when it is not one.
std::optional<KeyValue> read_value(lua_State* L, int idx, KeyType type, std::string& error) {
  KeyValue v;
  idx = lua_absindex(L, idx);
  if (type == KeyType::String) {
    auto s = string_at(L, idx);
    if (!s) {
      error = fmt::format("the value of a string must be a string, not a {}", luaL_typename(L, idx));
      return std::nullopt;
    }
    v.string = std::move(*s);
    return v;
  }
  if (type == KeyType::Stream) {
    error = "the value of a stream cannot be replaced";
    return std::nullopt;
  }
  if (!lua_istable(L, idx)) {
    error = fmt::format("the value of a {} must be a table, not a {}", key_type_name(type), luaL_typename(L, idx));
    return std::nullopt;
  }
  if (type == KeyType::List || type == KeyType::Set) {
    const lua_Unsigned n = lua_rawlen(L, idx);
    for (lua_Unsigned i = 1; i <= n; ++i) {
      lua_rawgeti(L, idx, static_cast<lua_Integer>(i));
      auto s = string_at(L, -1);
      lua_pop(L, 1);
      if (!s) {
        error = fmt::format("element {} of a {} value is not a string", i, key_type_name(type));
        return std::nullopt;
      }
      v.members.push_back(std::move(*s));
    }
    return v;
  }
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    auto k = string_at(L, -2);
    if (!k) {
      lua_pop(L, 2);
      error = fmt::format("a {} value is a table of {} (string keys)", key_type_name(type),
                          type == KeyType::Hash ? "field = value" : "member = score");
      return std::nullopt;
    }
    if (type == KeyType::Hash) {
      auto x = string_at(L, -1);
      if (!x) {
        lua_pop(L, 2);
        error = fmt::format("hash field '{}' has a {} value (a string is needed)", log::printable(*k), luaL_typename(L, -1));
        return std::nullopt;
      }
      v.fields.emplace_back(std::move(*k), std::move(*x));
    } else {
      int isnum = 0;
      double score = lua_tonumberx(L, -1, &isnum);
      if (!isnum) {
        lua_pop(L, 2);
        error = fmt::format("sorted set member '{}' has no number as its score", log::printable(*k));
        return std::nullopt;
      }
      v.scored.emplace_back(std::move(*k), score);
    }
    lua_pop(L, 1);
  }
  return v;
}

std::string describe_key(int db, const std::string& key) { return fmt::format("DB {} key '{}'", db, log::printable(key)); }

}  // namespace

size_t KeyValue::bytes() const {
  size_t n = string.size();
  for (const auto& m : members) n += m.size() + 8;
  for (const auto& [m, s] : scored) n += m.size() + 16;
  for (const auto& [f, x] : fields) n += f.size() + x.size() + 8;
  return n;
}

const char* transform_type_name(KeyType type) { return type == KeyType::ZSet ? "zset" : key_type_name(type); }

std::string TransformScript::name() const {
  auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::shared_ptr<const TransformScript> TransformScript::load(const std::string& path, long long budget_ms) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FerryError(ExitCode::Usage, fmt::format("transform script {}: cannot be read ({})", path, std::strerror(errno)));
  std::ostringstream text;
  text << in.rdbuf();
  auto script = std::make_shared<TransformScript>();
  script->path = path;
  script->code = text.str();
  script->budget_ms = budget_ms;
  Transform probe(script);  // compiles and runs it: which functions it defines
  return script;
}

// ---- The Lua state -----------------------------------------------------------------------------

Transform::Transform(std::shared_ptr<const TransformScript> script) : script_(std::move(script)) { open(); }

Transform::~Transform() {
  if (L_) lua_close(L_);
}

void Transform::open() {
  memory_.limit = script_->memory_bytes;
  L_ = lua_newstate(limited_alloc, &memory_);
  if (!L_) throw FerryError(ExitCode::Failed, "transform: no memory for a Lua state");
  *static_cast<Transform**>(lua_getextraspace(L_)) = this;
  const std::pair<const char*, lua_CFunction> libs[] = {{LUA_GNAME, luaopen_base},       {LUA_STRLIBNAME, luaopen_string},
                                                        {LUA_TABLIBNAME, luaopen_table}, {LUA_MATHLIBNAME, luaopen_math},
                                                        {LUA_UTF8LIBNAME, luaopen_utf8}, {LUA_COLIBNAME, luaopen_coroutine}};
  for (const auto& [name, fn] : libs) {
    luaL_requiref(L_, name, fn, 1);
    lua_pop(L_, 1);
  }
  for (const char* name : {"dofile", "loadfile", "load", "collectgarbage"}) {
    lua_pushnil(L_);
    lua_setglobal(L_, name);
  }
  // Determinism: one fixed seed (a migration and its verify must transform alike).
  lua_getglobal(L_, "math");
  lua_getfield(L_, -1, "randomseed");
  lua_pushinteger(L_, 1);
  lua_call(L_, 1, 0);
  lua_pop(L_, 1);

  lua_newtable(L_);
  const std::pair<const char*, lua_CFunction> helpers[] = {{"match", lua_match}, {"now_ms", lua_now_ms}, {"log", lua_log}};
  for (const auto& [name, fn] : helpers) {
    lua_pushcfunction(L_, fn);
    lua_setfield(L_, -2, name);
  }
  lua_setglobal(L_, "ferry");
  if (luaL_loadbufferx(L_, kPrelude, std::strlen(kPrelude), "=ferry", "t") != LUA_OK || lua_pcall(L_, 0, 1, 0) != LUA_OK)
    throw FerryError(ExitCode::Failed, fmt::format("transform: the helpers failed to load: {}", lua_tostring(L_, -1)));
  drop_ref_ = luaL_ref(L_, LUA_REGISTRYINDEX);

  lua_newtable(L_);  // the metatable of an input record: its value is read when the script reads it
  lua_pushcfunction(L_, value_index);
  lua_setfield(L_, -2, "__index");
  meta_ref_ = luaL_ref(L_, LUA_REGISTRYINDEX);

  lua_sethook(L_, budget_hook, LUA_MASKCOUNT, 10000);
  const std::string chunk = "@" + script_->path;
  begin_call();
  if (luaL_loadbufferx(L_, script_->code.data(), script_->code.size(), chunk.c_str(), "t") != LUA_OK ||
      lua_pcall(L_, 0, 0, 0) != LUA_OK) {
    std::string why = lua_tostring(L_, -1) ? lua_tostring(L_, -1) : "(no message)";
    lua_close(L_);
    L_ = nullptr;
    throw FerryError(ExitCode::Usage, fmt::format("transform script {}: {}", script_->path, why));
  }
  auto has = [&](const char* name) {
    lua_getglobal(L_, name);
    bool f = lua_isfunction(L_, -1);
    lua_pop(L_, 1);
    return f;
  };
  auto* mutable_script = const_cast<TransformScript*>(script_.get());  // set once, by load()'s probe
  bool key_fn = has("on_key"), command_fn = has("on_command");
  if (!key_fn && !command_fn) {
    lua_close(L_);
    L_ = nullptr;
    throw FerryError(ExitCode::Usage, fmt::format("transform script {}: defines neither on_key(k) nor on_command(c) (see "
                                                  "`ferry migrate --help`, README: Transforms)",
                                                  script_->path));
  }
  mutable_script->has_on_key = key_fn;
  mutable_script->has_on_command = command_fn;
}

void Transform::begin_call() { deadline_ns_ = now_ns() + script_->budget_ms * 1'000'000; }

void Transform::budget_hook(lua_State* L, lua_Debug*) {
  Transform* self = self_of(L);
  if (now_ns() > self->deadline_ns_)
    luaL_error(L, "took longer than %d ms (the time budget of one call: --transform-budget-ms)",
               static_cast<int>(self->script_->budget_ms));
}

int Transform::value_index(lua_State* L) {
  Transform* self = self_of(L);
  size_t n = 0;
  const char* field = lua_tolstring(L, 2, &n);
  if (!field || std::string_view(field, n) != "value" || self->value_read_ || !self->loader_) return 0;
  lua_rawgeti(L, LUA_REGISTRYINDEX, self->input_ref_);
  const bool input = lua_rawequal(L, 1, -1);
  lua_pop(L, 1);
  if (!input) return 0;
  self->value_read_ = true;
  self->loaded_ = (*self->loader_)();
  if (!self->loaded_) return 0;
  push_value(L, self->input_type_, *self->loaded_);
  lua_pushvalue(L, -1);
  lua_setfield(L, 1, "value");  // raw: the table has no __newindex
  return 1;
}

// "file.lua:12: ": where a hook function is defined, for what it returned.
std::string Transform::defined_at(const char* function) {
  lua_getglobal(L_, function);
  lua_Debug ar;
  std::string out;
  if (lua_getinfo(L_, ">S", &ar)) out = fmt::format("{}:{}: ", ar.short_src, ar.linedefined);
  return out;
}

void Transform::fail(const std::string& what, const std::string& why) {
  lua_settop(L_, 0);
  throw TransformError(fmt::format("transform {} failed on {}: {}", script_->path, what, why));
}

// The tables a hook returned (one, or each of a list), on the stack; false when it dropped its input.
// `field` tells one from a list (an input record has it raw, so no __index runs).
bool Transform::output_tables(const char* hook, const char* field, const char* noun, const std::string& what,
                              std::vector<int>& tables) {
  lua_rawgeti(L_, LUA_REGISTRYINDEX, drop_ref_);
  const bool dropped = lua_rawequal(L_, -1, -2);
  lua_pop(L_, 1);
  if (dropped) return false;
  if (!lua_istable(L_, -1))
    fail(what, fmt::format("{}{} returned {} (return the {}, a list of them, or ferry.drop() to drop it)", defined_at(hook), hook,
                           lua_isnoneornil(L_, -1) ? "nothing" : std::string("a ") + luaL_typename(L_, -1), noun));
  const int result = lua_gettop(L_);
  lua_getfield(L_, result, field);
  const bool single = !lua_isnil(L_, -1);
  lua_pop(L_, 1);
  if (single) {
    tables.push_back(result);
    return true;
  }
  const lua_Unsigned n = lua_rawlen(L_, result);
  if (n == 0) fail(what, fmt::format("{} returned an empty list (return ferry.drop() to drop it)", hook));
  for (lua_Unsigned i = 1; i <= n; ++i) {
    lua_rawgeti(L_, result, static_cast<lua_Integer>(i));
    if (!lua_istable(L_, -1)) fail(what, fmt::format("element {} of the list {} returned is not a {}", i, hook, noun));
    tables.push_back(lua_gettop(L_));
  }
  return true;
}

// ---- Key records ---------------------------------------------------------------------------------

std::vector<KeyRecord> Transform::key(const KeyRecord& in, const ValueLoader& value, bool several) {
  if (!script_->has_on_key) return {in};
  const std::string what = describe_key(in.db, in.key);
  lua_settop(L_, 0);
  lua_getglobal(L_, "on_key");
  lua_createtable(L_, 0, 5);
  lua_pushinteger(L_, in.db);
  lua_setfield(L_, -2, "db");
  push_string(L_, in.key);
  lua_setfield(L_, -2, "key");
  lua_pushstring(L_, transform_type_name(in.type));
  lua_setfield(L_, -2, "type");
  if (in.expire_ms) {
    lua_pushinteger(L_, *in.expire_ms);
    lua_setfield(L_, -2, "expire_ms");
  }
  lua_rawgeti(L_, LUA_REGISTRYINDEX, meta_ref_);
  lua_setmetatable(L_, -2);
  lua_pushvalue(L_, -1);
  input_ref_ = luaL_ref(L_, LUA_REGISTRYINDEX);
  loader_ = value ? &value : nullptr;
  loaded_.reset();
  value_read_ = false;
  input_type_ = in.type;
  struct Reset {
    Transform* t;
    ~Reset() {
      luaL_unref(t->L_, LUA_REGISTRYINDEX, t->input_ref_);
      t->input_ref_ = LUA_NOREF;
      t->loader_ = nullptr;
    }
  } reset{this};
  begin_call();
  if (lua_pcall(L_, 1, 1, 0) != LUA_OK) fail(what, lua_tostring(L_, -1) ? lua_tostring(L_, -1) : "(an error without a message)");
  return read_key_outputs(in, what, several);
}

std::vector<KeyRecord> Transform::read_key_outputs(const KeyRecord& in, const std::string& what, bool several) {
  std::vector<int> tables;
  if (!output_tables("on_key", "key", "record", what, tables)) return {};
  if (tables.size() > 1 && !several)
    fail(what, fmt::format("on_key returned {} records for a key whose value is streamed to the target (a key over "
                           "--big-key-threshold, or a stream): it can be renamed, moved, given an expiry or dropped, "
                           "not written twice",
                           tables.size()));
  std::optional<KeyValue> input_value;
  auto input = [&]() -> const std::optional<KeyValue>& {  // read now if the script did not
    if (!value_read_ && loader_) {
      value_read_ = true;
      loaded_ = (*loader_)();
    }
    if (loaded_ && !input_value) input_value = canonical(*loaded_, in.type);
    return input_value;
  };
  std::vector<KeyRecord> out;
  for (int t : tables) {
    KeyRecord r;
    lua_getfield(L_, t, "key");
    auto key = string_at(L_, -1);
    lua_pop(L_, 1);
    if (!key) fail(what, "on_key returned a record without a string `key`");
    r.key = std::move(*key);
    lua_getfield(L_, t, "db");
    int isint = 0;
    lua_Integer db = lua_isnil(L_, -1) ? in.db : lua_tointegerx(L_, -1, &isint);
    if (!lua_isnil(L_, -1) && (!isint || db < 0 || db > 255)) fail(what, "on_key returned a record whose `db` is not 0-255");
    lua_pop(L_, 1);
    r.db = static_cast<int>(db);
    lua_getfield(L_, t, "type");
    auto type_name = string_at(L_, -1);
    lua_pop(L_, 1);
    r.type = in.type;
    if (type_name) {
      auto type = type_named(*type_name);
      if (!type) fail(what, fmt::format("on_key returned a record of unknown type '{}'", log::printable(*type_name)));
      r.type = *type;
    }
    lua_getfield(L_, t, "expire_ms");
    if (!lua_isnil(L_, -1)) {
      int isnum = 0;
      lua_Number at = lua_tonumberx(L_, -1, &isnum);
      if (!isnum || at <= 0) fail(what, "on_key returned a record whose `expire_ms` is not a positive number (Unix ms) or nil");
      r.expire_ms = static_cast<long long>(at);
    }
    lua_pop(L_, 1);
    lua_pushstring(L_, "value");
    lua_rawget(L_, t);  // raw: an unread value is the input's
    if (!lua_isnil(L_, -1)) {
      std::string error;
      auto v = read_value(L_, -1, r.type, error);
      if (!v) fail(what, "on_key returned " + error);
      if (!input())
        fail(what, fmt::format("on_key gave {} a new value, but its value is not given to a transform (a key over "
                               "--big-key-threshold, or a stream): it can be renamed, moved, given an expiry or dropped",
                               describe_key(in.db, in.key)));
      auto c = canonical(std::move(*v), r.type);
      if (!(r.type == in.type && c == *input())) r.value = std::move(c);
    } else if (r.type != in.type) {
      fail(what, fmt::format("on_key changed the type to {} without giving a value of that type", transform_type_name(r.type)));
    }
    lua_pop(L_, 1);
    out.push_back(std::move(r));
  }
  lua_settop(L_, 0);
  return out;
}

// ---- Commands ------------------------------------------------------------------------------------

std::vector<TransformedCommand> Transform::command(int db, const std::vector<std::string>& args) {
  if (!script_->has_on_command || args.empty()) return {{db, args}};
  const std::string name = ascii_upper(args[0]);
  std::string shown = name;
  for (size_t i = 1; i < args.size() && i < 3; ++i) shown += " '" + log::printable(args[i], 40) + "'";
  if (args.size() > 3) shown += " ...";
  const std::string what = fmt::format("DB {} command {}", db, shown);
  lua_settop(L_, 0);
  lua_getglobal(L_, "on_command");
  lua_createtable(L_, 0, 4);
  lua_pushinteger(L_, db);
  lua_setfield(L_, -2, "db");
  push_string(L_, name);
  lua_setfield(L_, -2, "name");
  lua_createtable(L_, static_cast<int>(args.size() - 1), 0);
  for (size_t i = 1; i < args.size(); ++i) {
    push_string(L_, args[i]);
    lua_rawseti(L_, -2, static_cast<lua_Integer>(i));
  }
  lua_setfield(L_, -2, "args");
  CommandKeys keys = command_keys(name, args);
  std::vector<size_t> all = keys.written;
  all.insert(all.end(), keys.read.begin(), keys.read.end());
  std::sort(all.begin(), all.end());
  lua_createtable(L_, static_cast<int>(all.size()), 0);
  for (size_t i = 0; i < all.size(); ++i) {
    lua_pushinteger(L_, static_cast<lua_Integer>(all[i]));
    lua_rawseti(L_, -2, static_cast<lua_Integer>(i + 1));
  }
  lua_setfield(L_, -2, "keys");
  begin_call();
  if (lua_pcall(L_, 1, 1, 0) != LUA_OK) fail(what, lua_tostring(L_, -1) ? lua_tostring(L_, -1) : "(an error without a message)");
  return read_command_outputs(db, what);
}

std::vector<TransformedCommand> Transform::read_command_outputs(int input_db, const std::string& what) {
  std::vector<TransformedCommand> out;
  std::vector<int> tables;
  if (!output_tables("on_command", "name", "command", what, tables)) return {};
  for (int t : tables) {
    TransformedCommand c;
    lua_getfield(L_, t, "db");
    int isint = 0;
    lua_Integer db = lua_isnil(L_, -1) ? input_db : lua_tointegerx(L_, -1, &isint);
    if (!lua_isnil(L_, -1) && (!isint || db < 0 || db > 255)) fail(what, "on_command returned a command whose `db` is not 0-255");
    lua_pop(L_, 1);
    c.db = static_cast<int>(db);
    lua_getfield(L_, t, "name");
    auto name = string_at(L_, -1);
    lua_pop(L_, 1);
    if (!name || name->empty()) fail(what, "on_command returned a command without a `name`");
    c.args.push_back(std::move(*name));
    lua_getfield(L_, t, "args");
    if (!lua_istable(L_, -1)) fail(what, "on_command returned a command whose `args` is not a list");
    const lua_Unsigned n = lua_rawlen(L_, -1);
    for (lua_Unsigned i = 1; i <= n; ++i) {
      lua_rawgeti(L_, -1, static_cast<lua_Integer>(i));
      auto a = string_at(L_, -1);
      if (!a) fail(what, fmt::format("argument {} of the command on_command returned is a {}, not a string",
                                     i, luaL_typename(L_, -1)));
      lua_pop(L_, 1);
      c.args.push_back(std::move(*a));
    }
    lua_pop(L_, 1);
    out.push_back(std::move(c));
  }
  lua_settop(L_, 0);
  return out;
}

}  // namespace ferry
