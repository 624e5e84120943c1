// config_files.cpp: check_config_files() (config.hpp): the files a
// configuration names are read, and found to be what they should be, before
// the server creates anything; a bad one is a usage error (exit 2) with one
// line naming the flag, not a runtime failure half-way through start-up.
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>

#include "config.hpp"
#include "sentiment.hpp"

namespace mlgate {
namespace {

std::string readable_error(const char* flag, const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::string(flag) + " " + path + ": cannot read: " + std::strerror(errno);
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return std::string(flag) + " " + path + ": is a folder";
  return "";
}

// The same loads cpp-httplib makes (a PEM certificate, a PEM private key,
// and the key belonging to the certificate), with libcrypto alone.
std::string tls_error(const std::string& cert_path, const std::string& key_path) {
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
  using Bio = std::unique_ptr<BIO, decltype(&BIO_free)>;
  Bio cb(BIO_new_file(cert_path.c_str(), "r"), BIO_free), kb(BIO_new_file(key_path.c_str(), "r"), BIO_free);
  if (!cb || !kb) return "--tls-cert/--tls-key: cannot open";
  std::unique_ptr<X509, decltype(&X509_free)> cert(PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr),
                                                   X509_free);
  if (!cert) return "--tls-cert " + cert_path + ": not a PEM certificate";
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
  if (!key) return "--tls-key " + key_path + ": not a PEM private key (or one with a passphrase)";
  if (X509_check_private_key(cert.get(), key.get()) != 1)
    return "--tls-key " + key_path + ": does not belong to the certificate in " + cert_path;
  return "";
#else
  (void)cert_path, (void)key_path;
  return "--tls-cert: this build has no TLS support";
#endif
}

}  // namespace

std::string check_config_files(const Config& c) {
  for (auto [flag, path] : {std::pair{"--tls-cert", &c.tls_cert}, std::pair{"--tls-key", &c.tls_key},
                            std::pair{"--lexicon", &c.lexicon}})
    if (!path->empty())
      if (auto e = readable_error(flag, *path); !e.empty()) return e;
  if (!c.tls_cert.empty())
    if (auto e = tls_error(c.tls_cert, c.tls_key); !e.empty()) return e;
  if (!c.lexicon.empty() && c.model == "sentiment") {
    try {
      SentimentModel::from_lexicon_file(c.lexicon);  // loaded again by make_model: a few ms
    } catch (const std::exception& e) {
      return std::string("--lexicon: ") + e.what();
    }
  }
  std::error_code ec;
  if (std::filesystem::exists(c.data_dir, ec) && !std::filesystem::is_directory(c.data_dir, ec))
    return "--data-dir " + c.data_dir + ": exists and is not a folder";
  return "";
}

}  // namespace mlgate
