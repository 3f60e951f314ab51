#include "coordinator/service_security.h"

#include <fcntl.h>
#include <zmq_addon.hpp>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <future>
#include <random>
#include <sstream>

#include "coordinator/service_protocol.h"
#include "core/error.h"

namespace baton::coordinator {
namespace {

constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";  // fixed by ZeroMQ's RFC 27
constexpr const char* kTokenUser = "baton";

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

std::vector<std::string> read_lines(const std::string& path, const std::string& what) {
  std::ifstream in(path);
  if (!in) throw UsageError("cannot read " + what + " " + path + " (" + std::strerror(errno) + ")");
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line) && lines.size() < 100000) lines.push_back(line);
  return lines;
}

// The 32 raw bytes of a Z85 key, or "" when `z85` is not one.
std::string decode_key(const std::string& z85) {
  if (z85.size() != 40) return "";
  std::array<uint8_t, 32> raw{};
  if (!zmq_z85_decode(raw.data(), z85.c_str())) return "";
  return std::string(reinterpret_cast<const char*>(raw.data()), raw.size());
}

std::string checked_key(const std::string& z85, const std::string& path, const std::string& name) {
  if (decode_key(z85).empty())
    throw UsageError(path + ": " + name + " is not a CurveZMQ key (40 Z85 characters)",
                     "make keys with `baton keygen NAME`");
  return z85;
}

// "name = value" lines of a key file.
std::vector<std::pair<std::string, std::string>> key_lines(const std::string& path) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& raw : read_lines(path, "key file")) {
    const auto line = trim(raw);
    if (line.empty() || line[0] == '#') continue;
    const auto eq = line.find('=');
    if (eq == std::string::npos) out.emplace_back("", line);
    else out.emplace_back(trim(line.substr(0, eq)), trim(line.substr(eq + 1)));
  }
  return out;
}

// Creates `path` (never overwrites) with mode 0600 and writes `text` durably.
void write_private_file(const std::string& path, const std::string& text, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0)
    throw UsageError("cannot create " + path + " (" + std::strerror(errno) + ")",
                     errno == EEXIST ? "it exists already; remove it or choose another name" : "");
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) {
    ::unlink(path.c_str());
    throw Error("cannot write " + path + " (" + std::strerror(errno) + ")");
  }
}

void warn_if_readable_by_others(const std::string& path, const std::string& what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077))
    spdlog::warn("{} {} can be read by other users (mode {:o}); chmod 600 it", what, path, st.st_mode & 0777);
}

bool same_secret(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;  // no early exit: the time does not tell how much matched
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

void ServerSecurity::check() const {
  if (!curve_key_file.empty() && !token_file.empty())
    throw UsageError("give either CurveZMQ keys (--curve-key) or --token-file, not both");
  if (!curve_key_file.empty() && curve_clients_file.empty())
    throw UsageError("--curve-key needs --curve-clients FILE: the public keys of the clients it admits",
                     "cat alice.pub bob.pub > clients; baton serve --curve-key server.key --curve-clients clients");
  if (curve_key_file.empty() && !curve_clients_file.empty())
    throw UsageError("--curve-clients needs --curve-key (the server's own key pair)");
}

void ClientCredentials::check() const {
  if ((!curve_key_file.empty() || !server_key_file.empty()) && !token_file.empty())
    throw UsageError("give either CurveZMQ keys (--curve-key, --server-key) or --token-file, not both");
  if (curve_key_file.empty() != server_key_file.empty())
    throw UsageError("CurveZMQ needs both --curve-key (this client's key pair) and --server-key (the server's .pub)");
}

bool curve_available() { return zmq_has("curve") != 0; }

CurveKeyPair make_curve_key_pair() {
  if (!curve_available())
    throw Error("this libzmq was built without CURVE", "install a libzmq with libsodium, or use --token-file");
  char pub[41] = {}, sec[41] = {};
  if (zmq_curve_keypair(pub, sec) != 0) throw Error(std::string("zmq_curve_keypair failed: ") + zmq_strerror(zmq_errno()));
  return {pub, sec};
}

std::pair<std::string, std::string> write_curve_key_pair(const std::string& prefix, const CurveKeyPair& keys) {
  const std::string key = prefix + ".key", pub = prefix + ".pub";
  if (::access(pub.c_str(), F_OK) == 0)
    throw UsageError("cannot create " + pub + " (it exists already)", "remove it or choose another name");
  write_private_file(key,
                     "# baton CurveZMQ key pair: keep this file secret\npublic-key = " + keys.public_key +
                         "\nsecret-key = " + keys.secret_key + "\n",
                     0600);
  write_private_file(pub, "# baton CurveZMQ public key: give it to the other side\npublic-key = " + keys.public_key + "\n",
                     0644);
  return {key, pub};
}

CurveKeyPair read_curve_key_file(const std::string& path) {
  CurveKeyPair keys;
  for (const auto& [name, value] : key_lines(path)) {
    if (name == "public-key") keys.public_key = checked_key(value, path, "public-key");
    else if (name == "secret-key") keys.secret_key = checked_key(value, path, "secret-key");
    else throw UsageError(path + ": unexpected line '" + (name.empty() ? value : name) + "'",
                          "a key file has lines 'public-key = ...' and 'secret-key = ...' (baton keygen)");
  }
  if (keys.public_key.empty()) throw UsageError(path + " has no public-key line", "make keys with `baton keygen NAME`");
  if (!keys.secret_key.empty()) {
    warn_if_readable_by_others(path, "secret key file");
    char derived[41] = {};
    if (zmq_curve_public(derived, keys.secret_key.c_str()) != 0 || keys.public_key != derived)
      throw UsageError(path + ": the public key does not belong to the secret key");
  }
  return keys;
}

std::vector<std::string> read_curve_public_keys(const std::string& path) {
  std::vector<std::string> keys;
  for (const auto& [name, value] : key_lines(path)) {
    if (name == "secret-key")
      throw UsageError(path + " contains a secret key", "list only public keys (the clients' .pub files)");
    if (!name.empty() && name != "public-key") throw UsageError(path + ": unexpected line '" + name + " = ...'");
    keys.push_back(checked_key(value, path, "a line"));
  }
  if (keys.empty()) throw UsageError(path + " lists no public key", "cat alice.pub bob.pub > " + path);
  return keys;
}

void write_token_file(const std::string& path) {
  std::random_device rd;
  std::string token;
  const char* hex = "0123456789abcdef";
  for (int i = 0; i < 8; ++i) {  // 256 bits
    const uint32_t v = rd();
    for (int k = 0; k < 4; ++k) token += hex[(v >> (8 * k + 4)) & 15], token += hex[(v >> (8 * k)) & 15];
  }
  write_private_file(path, token + "\n", 0600);
}

std::string read_token_file(const std::string& path) {
  const auto lines = read_lines(path, "token file");
  const std::string token = lines.empty() ? "" : trim(lines.front());
  if (token.size() < 16 || token.size() > 255)
    throw UsageError("token file " + path + ": the token has " + std::to_string(token.size()) +
                         " characters, expected 16 to 255 on the first line",
                     "make one with `baton keygen --token FILE`");
  warn_if_readable_by_others(path, "token file");
  return token;
}

void check_endpoint(const std::string& endpoint) {
  if (endpoint.rfind("ipc://", 0) == 0 && endpoint.size() > 6) return;
  const auto colon = endpoint.rfind(':');
  if (endpoint.rfind("tcp://", 0) != 0 || colon == std::string::npos || colon <= 6 || colon + 1 == endpoint.size())
    throw UsageError("endpoint '" + endpoint + "' is not tcp://HOST:PORT or ipc://PATH",
                     std::string("for example ") + kDefaultServiceEndpoint);
}

bool is_loopback_endpoint(const std::string& endpoint) {
  if (endpoint.rfind("ipc://", 0) == 0 || endpoint.rfind("inproc://", 0) == 0) return true;
  if (endpoint.rfind("tcp://", 0) != 0) return false;
  const auto colon = endpoint.rfind(':');
  std::string host = endpoint.substr(6, colon == std::string::npos ? std::string::npos : colon - 6);
  // "tcp://eth0;127.0.0.1:..." binds a source interface: judge the address.
  if (const auto semi = host.find(';'); semi != std::string::npos) host = host.substr(semi + 1);
  if (host == "localhost" || host == "lo" || host == "[::1]" || host == "::1") return true;
  if (host.rfind("127.", 0) != 0) return false;
  int dots = 0;
  for (char c : host) {
    if (c == '.') ++dots;
    else if (c < '0' || c > '9') return false;
  }
  return dots == 3;
}

ServerAuthenticator::ServerAuthenticator(zmq::context_t& context, const ServerSecurity& s) {
  s.check();
  if (!s.enabled()) return;
  if (!s.curve_key_file.empty()) {
    if (!curve_available())
      throw Error("this libzmq was built without CURVE", "install a libzmq with libsodium, or use --token-file");
    mechanism_ = "curve";
    server_keys_ = read_curve_key_file(s.curve_key_file);
    if (server_keys_.secret_key.empty())
      throw UsageError("--curve-key " + s.curve_key_file + " holds no secret key",
                       "give the server's NAME.key file, not NAME.pub");
    for (const auto& k : read_curve_public_keys(s.curve_clients_file)) client_keys_.push_back(decode_key(k));
  } else {
    mechanism_ = "token";
    token_ = read_token_file(s.token_file);
  }
  std::promise<void> ready;
  auto bound = ready.get_future();
  thread_ = std::thread([this, &context, &ready] { serve(context, ready); });
  try {
    bound.get();
  } catch (...) {
    thread_.join();
    throw;
  }
}

ServerAuthenticator::~ServerAuthenticator() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

std::string ServerAuthenticator::mechanism() const { return mechanism_; }

void ServerAuthenticator::apply(zmq::socket_t& socket) const {
  if (mechanism_ == "none") return;
  socket.set(zmq::sockopt::zap_domain, "baton");
  if (mechanism_ == "curve") {
    socket.set(zmq::sockopt::curve_server, 1);
    socket.set(zmq::sockopt::curve_secretkey, server_keys_.secret_key);
  } else {
    socket.set(zmq::sockopt::plain_server, 1);
  }
}

// RFC 27: each request is [version, request id, domain, address, routing id,
// mechanism, credentials...]; the answer [version, request id, status code,
// status text, user id, metadata].
void ServerAuthenticator::serve(zmq::context_t& context, std::promise<void>& ready) {
  zmq::socket_t zap(context, zmq::socket_type::rep);
  try {
    zap.set(zmq::sockopt::linger, 0);
    zap.bind(kZapEndpoint);
  } catch (const zmq::error_t& e) {
    ready.set_exception(std::make_exception_ptr(Error(std::string("cannot start the authenticator: ") + e.what())));
    return;
  }
  ready.set_value();
  while (!stop_) {
    std::vector<zmq::message_t> frames;
    try {
      zmq::pollitem_t item{zap.handle(), 0, ZMQ_POLLIN, 0};
      if (zmq::poll(&item, 1, std::chrono::milliseconds(100)) <= 0) continue;
      if (!zmq::recv_multipart(zap, std::back_inserter(frames))) continue;
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;  // a signal meant for the server's loop
      spdlog::error("serve: the authenticator stopped: {}", e.what());
      return;
    }
    bool ok = false;
    std::string why = "malformed ZAP request";
    if (frames.size() >= 6 && frames[0].to_string() == "1.0") {
      const std::string mechanism = frames[5].to_string();
      if (mechanism_ == "curve" && mechanism == "CURVE" && frames.size() == 7) {
        const std::string key = frames[6].to_string();
        for (const auto& k : client_keys_) ok = ok || same_secret(k, key);
        why = ok ? "OK" : "client key not admitted";
      } else if (mechanism_ == "token" && mechanism == "PLAIN" && frames.size() == 8) {
        ok = frames[6].to_string() == kTokenUser && same_secret(frames[7].to_string(), token_);
        why = ok ? "OK" : "wrong token";
      } else {
        why = "mechanism " + mechanism + " not accepted";
      }
      if (!ok) {
        refused_++;
        spdlog::warn("serve: refused a connection from {} ({})", frames[3].to_string(), why);
      }
    }
    const std::string request_id = frames.size() > 1 ? frames[1].to_string() : "";
    std::array<zmq::const_buffer, 6> reply = {zmq::str_buffer("1.0"), zmq::buffer(request_id),
                                              ok ? zmq::str_buffer("200") : zmq::str_buffer("400"), zmq::buffer(why),
                                              zmq::str_buffer(""), zmq::str_buffer("")};
    try {
      zmq::send_multipart(zap, reply);
    } catch (const zmq::error_t& e) {
      spdlog::error("serve: the authenticator could not answer: {}", e.what());
    }
  }
}

void apply_client_credentials(zmq::socket_t& socket, const ClientCredentials& c) {
  c.check();
  if (!c.token_file.empty()) {
    socket.set(zmq::sockopt::plain_username, kTokenUser);
    socket.set(zmq::sockopt::plain_password, read_token_file(c.token_file));
  } else if (!c.curve_key_file.empty()) {
    if (!curve_available())
      throw Error("this libzmq was built without CURVE", "install a libzmq with libsodium, or use --token-file");
    const auto mine = read_curve_key_file(c.curve_key_file);
    if (mine.secret_key.empty())
      throw UsageError("--curve-key " + c.curve_key_file + " holds no secret key", "give this client's NAME.key file");
    const auto server = read_curve_key_file(c.server_key_file);
    socket.set(zmq::sockopt::curve_serverkey, server.public_key);
    socket.set(zmq::sockopt::curve_publickey, mine.public_key);
    socket.set(zmq::sockopt::curve_secretkey, mine.secret_key);
  }
}

}  // namespace baton::coordinator
