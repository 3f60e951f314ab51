#pragma once
// Who may talk to `baton serve` (docs/service.md, Security). On loopback no
// credentials are needed; any other address needs one of
//   - CurveZMQ: the server's key pair and the list of client public keys it
//     admits (key pairs made by `baton keygen`); traffic is encrypted;
//   - a shared token (a file both sides read), sent as ZeroMQ PLAIN
//     credentials: authentication only, traffic in the clear.
// Both are checked by a ZAP handler before a connection may send anything,
// so an unauthenticated peer never reaches the request parser.
#include <atomic>
#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

namespace baton::coordinator {

struct ServerSecurity {
  std::string curve_key_file;      // the server's key pair (NAME.key from baton keygen)
  std::string curve_clients_file;  // public keys of the admitted clients, one per line
  std::string token_file;          // a shared token instead of CURVE
  bool enabled() const { return !curve_key_file.empty() || !token_file.empty(); }
  // Throws UsageError for a half-given or contradictory set of options.
  void check() const;
};

struct ClientCredentials {
  std::string curve_key_file;   // this client's key pair
  std::string server_key_file;  // the server's public key (NAME.pub)
  std::string token_file;
  void check() const;
};

struct CurveKeyPair {
  std::string public_key;  // Z85, 40 characters
  std::string secret_key;  // Z85, 40 characters; empty when read from a .pub file
};

// True when this libzmq can do CURVE (zmq_has("curve")).
bool curve_available();
CurveKeyPair make_curve_key_pair();
// Writes PREFIX.key (both keys, mode 0600) and PREFIX.pub (the public key);
// refuses to overwrite either. Returns the two paths.
std::pair<std::string, std::string> write_curve_key_pair(const std::string& prefix, const CurveKeyPair& keys);
// A key file of write_curve_key_pair (a .key gives both keys, a .pub only the public one).
CurveKeyPair read_curve_key_file(const std::string& path);
// A list of public keys: lines "public-key = KEY" or a bare KEY, '#' comments
// (so `cat alice.pub bob.pub > clients` makes one). Refuses secret keys.
std::vector<std::string> read_curve_public_keys(const std::string& path);

// A new random token (64 hex digits) written to `path` with mode 0600.
void write_token_file(const std::string& path);
// The token: the file's first line without surrounding blanks; 16 to 255 bytes.
std::string read_token_file(const std::string& path);

// "tcp://127.0.0.1:7690", "tcp://localhost:*", "tcp://[::1]:7690", "ipc://..."
// are local; "tcp://*:7690", "tcp://0.0.0.0:...", a host name or address are not.
bool is_loopback_endpoint(const std::string& endpoint);
// Throws UsageError unless `endpoint` is tcp://HOST:PORT or ipc://PATH.
void check_endpoint(const std::string& endpoint);

// The server side: a ZAP handler thread (started when security is enabled)
// and the options of the ROUTER socket. Construct before binding.
class ServerAuthenticator {
 public:
  ServerAuthenticator(zmq::context_t& context, const ServerSecurity& security);
  ~ServerAuthenticator();
  ServerAuthenticator(const ServerAuthenticator&) = delete;
  ServerAuthenticator& operator=(const ServerAuthenticator&) = delete;

  // Makes `socket` a CURVE or PLAIN server (nothing without security).
  void apply(zmq::socket_t& socket) const;
  std::string mechanism() const;  // "none", "curve" or "token"
  uint64_t refused() const { return refused_.load(); }

 private:
  void serve(zmq::context_t& context, std::promise<void>& ready);

  std::string mechanism_ = "none";
  CurveKeyPair server_keys_;
  std::vector<std::string> client_keys_;  // 32 raw bytes each
  std::string token_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> refused_{0};
  std::thread thread_;
};

// Makes `socket` a CURVE or PLAIN client (nothing without credentials).
void apply_client_credentials(zmq::socket_t& socket, const ClientCredentials& credentials);

}  // namespace baton::coordinator
