package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Environment variables that hold data keys.
const (
	// EnvDataKey holds the current data key: 32 random bytes, base64.
	// Every value is encrypted with it.
	EnvDataKey = "INTAKEBOT_DATA_KEY"
	// EnvOldDataKeys holds earlier data keys, comma-separated, still
	// accepted for reading until `intakebot rotate-key` has re-encrypted
	// every value with the current key.
	EnvOldDataKeys = "INTAKEBOT_OLD_DATA_KEYS"
)

// ErrNoKey reports that no data key is configured.
var ErrNoKey = errors.New("no data key: set " + EnvDataKey + " to 32 random bytes in base64 (for example: head -c 32 /dev/urandom | base64)")

// ErrWrongKey reports a data key that does not open the database: the
// database's values were encrypted with keys none of which is configured.
var ErrWrongKey = errors.New("wrong data key")

// ErrCorrupt reports a stored value that cannot be decrypted with its own
// key: it was damaged or tampered with.
var ErrCorrupt = errors.New("corrupt encrypted value")

// ErrUnknownKey reports a stored value encrypted with a key that is not
// configured (an old key missing from INTAKEBOT_OLD_DATA_KEYS).
var ErrUnknownKey = errors.New("value encrypted with a key that is not configured")

// KeySize is the size of a data key in bytes (AES-256).
const KeySize = 32

// sealed value layout: version byte, key id (4 bytes), nonce, ciphertext+tag.
const (
	sealVersion = 1
	keyIDLen    = 4
	headerLen   = 1 + keyIDLen
)

// dataKey is one data key with the subkeys derived from it.
type dataKey struct {
	id     [keyIDLen]byte
	aead   cipher.AEAD
	lookup []byte // HMAC key for conversation lookups
}

// ID returns the key's short id: 8 hex characters of a hash of the key.
func (k *dataKey) ID() string { return hex.EncodeToString(k.id[:]) }

func newDataKey(raw []byte) (*dataKey, error) {
	if len(raw) != KeySize {
		return nil, fmt.Errorf("data key is %d bytes, want %d", len(raw), KeySize)
	}
	sum := sha256.Sum256(append([]byte("intakebot key id\x00"), raw...))
	k := &dataKey{lookup: derive(raw, "intakebot lookup v1")}
	copy(k.id[:], sum[:keyIDLen])
	block, err := aes.NewCipher(derive(raw, "intakebot encryption v1"))
	if err != nil {
		return nil, err
	}
	if k.aead, err = cipher.NewGCM(block); err != nil {
		return nil, err
	}
	return k, nil
}

func derive(key []byte, label string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(label))
	return m.Sum(nil)
}

// Keyring holds the current data key, which encrypts, and any older keys,
// which only decrypt. Every stored value carries the id of the key that
// sealed it, so values under old keys stay readable during a rotation.
// A Keyring is safe for concurrent use.
type Keyring struct {
	primary *dataKey
	byID    map[[keyIDLen]byte]*dataKey
	keys    []*dataKey // primary first
}

// NewKeyring returns a keyring with primary as the current key and old as
// keys accepted for reading. Keys are 32 raw bytes.
func NewKeyring(primary []byte, old ...[]byte) (*Keyring, error) {
	p, err := newDataKey(primary)
	if err != nil {
		return nil, err
	}
	kr := &Keyring{primary: p, byID: map[[keyIDLen]byte]*dataKey{p.id: p}, keys: []*dataKey{p}}
	for i, o := range old {
		k, err := newDataKey(o)
		if err != nil {
			return nil, fmt.Errorf("old key %d: %w", i+1, err)
		}
		if _, dup := kr.byID[k.id]; dup {
			continue
		}
		kr.byID[k.id] = k
		kr.keys = append(kr.keys, k)
	}
	return kr, nil
}

// ParseKeys decodes a base64 current key and comma-separated base64 old
// keys. An empty primary gives ErrNoKey.
func ParseKeys(primary, old string) (*Keyring, error) {
	if strings.TrimSpace(primary) == "" {
		return nil, ErrNoKey
	}
	p, err := decodeKey(primary)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvDataKey, err)
	}
	var olds [][]byte
	for _, s := range strings.Split(old, ",") {
		if strings.TrimSpace(s) == "" {
			continue
		}
		o, err := decodeKey(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvOldDataKeys, err)
		}
		olds = append(olds, o)
	}
	return NewKeyring(p, olds...)
}

func decodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != KeySize {
				return nil, fmt.Errorf("key decodes to %d bytes, want %d", len(b), KeySize)
			}
			return b, nil
		}
	}
	return nil, errors.New("key is not valid base64")
}

// NewKey returns a fresh random data key in base64, for a key file or
// INTAKEBOT_DATA_KEY.
func NewKey() string {
	b := make([]byte, KeySize)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.StdEncoding.EncodeToString(b)
}

// KeysFromEnv returns the keyring configured by INTAKEBOT_DATA_KEY and
// INTAKEBOT_OLD_DATA_KEYS. It returns ErrNoKey when INTAKEBOT_DATA_KEY is
// unset or empty, and a descriptive error when a key is malformed.
func KeysFromEnv(getenv func(string) string) (*Keyring, error) {
	return ParseKeys(getenv(EnvDataKey), getenv(EnvOldDataKeys))
}

// RequireKey is the check `serve` runs before starting: it returns the
// configured keyring, or an error that says exactly what to set. Unlike
// LoadOrCreateKey it never falls back to a key file, so a service never
// runs on a key that lives beside its database.
func RequireKey(getenv func(string) string) (*Keyring, error) {
	kr, err := KeysFromEnv(getenv)
	if errors.Is(err, ErrNoKey) {
		return nil, fmt.Errorf("serve needs a data key to encrypt what participants share: %w", err)
	}
	return kr, err
}

// KeyFile returns the path of the local key file used for the SQLite
// database named by dsn ("intakebot.db" → "intakebot.key"), or "" for
// PostgreSQL.
func KeyFile(dsn string) string {
	kind, path := parseDSN(dsn)
	if kind != dialectSQLite {
		return ""
	}
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + ".key"
}

// LoadKeys returns the keyring for dsn without creating anything:
// INTAKEBOT_DATA_KEY (with INTAKEBOT_OLD_DATA_KEYS) when set, otherwise the
// key file beside a SQLite database when it exists, otherwise ErrNoKey.
// Admin commands use it.
func LoadKeys(dsn string, getenv func(string) string) (*Keyring, error) {
	if getenv(EnvDataKey) != "" {
		return KeysFromEnv(getenv)
	}
	path := KeyFile(dsn)
	if path == "" {
		return nil, ErrNoKey
	}
	kr, err := readKeyFile(path, getenv(EnvOldDataKeys))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w (and no key file %s)", ErrNoKey, path)
	}
	return kr, err
}

// LoadOrCreateKey is what `chat` calls: like LoadKeys, but when no key is
// configured and the database is a SQLite file it creates a random key in
// a file beside it (mode 0600) and writes one notice line to notice saying
// where, so a newcomer's first run just works. For PostgreSQL without
// INTAKEBOT_DATA_KEY it returns ErrNoKey.
func LoadOrCreateKey(dsn string, getenv func(string) string, notice io.Writer) (*Keyring, error) {
	kr, err := LoadKeys(dsn, getenv)
	if !errors.Is(err, ErrNoKey) {
		return kr, err
	}
	path := KeyFile(dsn)
	if path == "" {
		return nil, err
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("store: create key file: %w", err)
		}
	}
	err = writeFileSync(path, NewKey()+"\n")
	if errors.Is(err, fs.ErrExist) {
		// Another process created it first: use it.
		return readKeyFile(path, getenv(EnvOldDataKeys))
	}
	if err != nil {
		return nil, fmt.Errorf("store: create key file: %w", err)
	}
	if notice != nil {
		fmt.Fprintf(notice, "Created a data key in %s (mode 0600): it encrypts what is stored; keep it with the database, which cannot be read without it. Set %s instead for a service.\n", path, EnvDataKey)
	}
	return readKeyFile(path, getenv(EnvOldDataKeys))
}

// readKeyFile reads a key file. The key of a rotation that was
// interrupted (path+".new") is accepted for reading too, so no value is
// ever sealed under a key that is not on disk.
func readKeyFile(path, old string) (*Keyring, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if p, err := os.ReadFile(pendingKeyFile(path)); err == nil {
		old = strings.TrimSpace(string(p)) + "," + old
	}
	kr, err := ParseKeys(string(b), old)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return kr, nil
}

func pendingKeyFile(keyFile string) string { return keyFile + ".new" }

// RotationKeys returns the keyring `intakebot rotate-key` re-encrypts
// with, and finish, to call once RotateKey has succeeded.
//   - With INTAKEBOT_DATA_KEY set, it is the new key; the old ones are
//     INTAKEBOT_OLD_DATA_KEYS and, for SQLite, the key file's key if there
//     is one (which is then obsolete). finish does nothing.
//   - Without it, for a SQLite database with a key file (what `chat`
//     made), a new key is generated and written to KEYFILE.new (mode 0600)
//     before anything is re-encrypted (a rotation that was interrupted
//     reuses it); finish moves it over the key file.
//   - Otherwise it returns ErrNoKey.
func RotationKeys(dsn string, getenv func(string) string) (*Keyring, func() error, error) {
	nop := func() error { return nil }
	keyFile := KeyFile(dsn)
	fileKey := ""
	if keyFile != "" {
		if b, err := os.ReadFile(keyFile); err == nil {
			fileKey = strings.TrimSpace(string(b))
		}
	}
	if primary := getenv(EnvDataKey); primary != "" {
		kr, err := ParseKeys(primary, getenv(EnvOldDataKeys)+","+fileKey)
		return kr, nop, err
	}
	if fileKey == "" {
		return nil, nil, ErrNoKey
	}
	pending := pendingKeyFile(keyFile)
	newKey := ""
	if b, err := os.ReadFile(pending); err == nil {
		newKey = strings.TrimSpace(string(b))
	} else {
		newKey = NewKey()
		if err := writeFileSync(pending, newKey+"\n"); err != nil {
			return nil, nil, fmt.Errorf("store: write new key file: %w", err)
		}
	}
	kr, err := ParseKeys(newKey, fileKey+","+getenv(EnvOldDataKeys))
	if err != nil {
		return nil, nil, fmt.Errorf("key file %s: %w", pending, err)
	}
	finish := func() error {
		if err := os.Rename(pending, keyFile); err != nil {
			return fmt.Errorf("store: install new key file: %w", err)
		}
		if d, err := os.Open(filepath.Dir(keyFile)); err == nil {
			d.Sync()
			d.Close()
		}
		return nil
	}
	return kr, finish, nil
}

// writeFileSync creates path (mode 0600, never over an existing file) with
// data, flushed to disk.
func writeFileSync(path, data string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

// PrimaryID returns the id of the current key.
func (kr *Keyring) PrimaryID() string { return kr.primary.ID() }

// IDs returns the ids of every key, the current one first.
func (kr *Keyring) IDs() []string {
	out := make([]string, len(kr.keys))
	for i, k := range kr.keys {
		out[i] = k.ID()
	}
	return out
}

// seal encrypts plaintext with the current key. aad binds the value to
// its place (table, column and row), so a value copied elsewhere does not
// open.
func (kr *Keyring) seal(plaintext []byte, aad string) []byte {
	k := kr.primary
	ns := k.aead.NonceSize()
	out := make([]byte, headerLen+ns, headerLen+ns+len(plaintext)+k.aead.Overhead())
	out[0] = sealVersion
	copy(out[1:headerLen], k.id[:])
	if _, err := rand.Read(out[headerLen:]); err != nil {
		panic(err)
	}
	return k.aead.Seal(out, out[headerLen:], plaintext, []byte(aad))
}

// open decrypts a sealed value. It returns ErrUnknownKey when the value's
// key is not in the ring, and ErrCorrupt when the value does not
// authenticate.
func (kr *Keyring) open(sealed []byte, aad string) ([]byte, error) {
	if len(sealed) < headerLen || sealed[0] != sealVersion {
		return nil, ErrCorrupt
	}
	var id [keyIDLen]byte
	copy(id[:], sealed[1:headerLen])
	k := kr.byID[id]
	if k == nil {
		return nil, fmt.Errorf("%w (key id %s)", ErrUnknownKey, hex.EncodeToString(id[:]))
	}
	ns := k.aead.NonceSize()
	if len(sealed) < headerLen+ns+k.aead.Overhead() {
		return nil, ErrCorrupt
	}
	pt, err := k.aead.Open(nil, sealed[headerLen:headerLen+ns], sealed[headerLen+ns:], []byte(aad))
	if err != nil {
		return nil, ErrCorrupt
	}
	return pt, nil
}

// sealedKeyID returns the id of the key that sealed a value, or "".
func sealedKeyID(sealed []byte) string {
	if len(sealed) < headerLen || sealed[0] != sealVersion {
		return ""
	}
	return hex.EncodeToString(sealed[1:headerLen])
}

// lookups returns the conversation lookup hashes of key under every key
// of the ring, the current key's first. Only the first is written; the
// others find conversations not yet re-keyed by a rotation.
func (kr *Keyring) lookups(channel, chatID string) []string {
	out := make([]string, len(kr.keys))
	for i, k := range kr.keys {
		out[i] = lookupHash(k, channel, chatID)
	}
	return out
}

func lookupHash(k *dataKey, channel, chatID string) string {
	m := hmac.New(sha256.New, k.lookup)
	m.Write([]byte(channel))
	m.Write([]byte{0})
	m.Write([]byte(chatID))
	return hex.EncodeToString(m.Sum(nil))
}
