//! The country (ISO 3166-1 code) and network (autonomous system number) a login comes from,
//! so that account recovery can tell a known place from a new one.
//!
//! The databases are the operator's: MaxMind DB files (`.mmdb`), typically
//! GeoLite2-Country.mmdb and GeoLite2-ASN.mmdb, which MaxMind ships as separate files. The
//! listener opens them once, at start, reading each whole into memory (they are a few MiB);
//! nothing here downloads or refreshes them, and a replaced file is seen at the next start.
//!
//! A database is input from outside the program, so [`GeoIp::open`] has the `maxminddb` crate
//! check each file whole before any lookup. As of maxminddb 0.32.0 (read for this):
//! `Reader::from_source` refuses a file whose metadata is missing or malformed (format version
//! 2, ip_version 4 or 6, record_size 24, 28 or 32, node_count above 0) or whose search tree and
//! the 16 bytes after it do not end before the metadata, so reading a node cannot leave the
//! file; `Reader::verify` then checks the whole metadata value, walks every network of the tree
//! (a tree that yields more than three networks per node is refused), checks the 16 zero bytes
//! after it, and checks every value a tree record reaches, following pointers: known types,
//! sizes and lengths inside the data section, valid UTF-8, pointer targets inside the section,
//! no pointer loop, maps, arrays and pointers nested at most 128 deep, and a work budget of
//! eight units per byte of the section. Lookups skip unwanted values without following
//! pointers, 128 levels at most, and decode wanted ones at most 512 deep. What it does not
//! refuse, and the hand-written checker this replaced did: map keys that are not strings, a
//! pointer to a pointer (when the chain ends), nesting between 33 and 128 levels, and tree
//! records no walk reaches (no lookup reads them either). None of these can make a lookup panic
//! or recurse without bound; maxminddb 0.27, used before, indexed the tree without bounds
//! checks and skipped values by unbounded recursion, which is why the checker existed. Once
//! open, a lookup cannot fail: a missing record, a value of the wrong type and a malformed code
//! all read as unknown.

use std::fs::File;
use std::io::Read;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use maxminddb::Reader;
use serde::Deserialize;

/// The largest database file opened, since it is read whole into memory. The Country and
/// ASN databases are a few MiB; GeoIP2-City, more than needed here, is about 130 MiB.
pub const MAX_DATABASE_BYTES: u64 = 512 * 1024 * 1024;

/// Why a GeoIP database could not be opened. Each variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum GeoIpError {
    /// [`GeoIp::open`] was given no file.
    #[error("no GeoIP database named; give at least one .mmdb file")]
    NoDatabase,
    /// The file could not be read.
    #[error("reading the GeoIP database {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_DATABASE_BYTES`].
    #[error(
        "the GeoIP database {path} is {size} bytes, more than the {max} read into memory; \
         the Country and ASN databases are enough",
        max = MAX_DATABASE_BYTES
    )]
    TooLarge { path: PathBuf, size: u64 },
    /// The file is not a MaxMind DB, or a damaged one.
    #[error(
        "{path} is not a usable MaxMind DB file: {reason}; give a .mmdb database such as \
         GeoLite2-Country.mmdb or GeoLite2-ASN.mmdb"
    )]
    Invalid { path: PathBuf, reason: String },
}

/// Where a login comes from, as far as the operator's databases tell. Fields the databases
/// lack, or hold in a malformed way, are `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Origin {
    /// ISO 3166-1 alpha-2 country code: two ASCII capital letters, such as "ES".
    pub country: Option<String>,
    /// Autonomous system number of the network, such as 3352; never 0 (reserved, RFC 7607).
    pub asn: Option<u32>,
}

impl Origin {
    /// For people and logs: "ES, AS3352", "ES", "AS3352" or "unknown".
    pub fn describe(&self) -> String {
        match (&self.country, self.asn) {
            (Some(country), Some(asn)) => format!("{country}, AS{asn}"),
            (Some(country), None) => country.clone(),
            (None, Some(asn)) => format!("AS{asn}"),
            (None, None) => "unknown".to_owned(),
        }
    }
}

/// The operator's GeoIP databases, opened once at start and read in the order given.
#[derive(Debug)]
pub struct GeoIp {
    readers: Vec<Reader<Vec<u8>>>,
}

impl GeoIp {
    /// Reads and checks each file (see the module's documentation). The order matters to
    /// [`GeoIp::lookup`]: for each field, the first database that has it wins.
    pub fn open(paths: &[PathBuf]) -> Result<GeoIp, GeoIpError> {
        if paths.is_empty() {
            return Err(GeoIpError::NoDatabase);
        }
        let mut readers = Vec::with_capacity(paths.len());
        for path in paths {
            readers.push(load(path, read_capped(path)?)?);
        }
        Ok(GeoIp { readers })
    }

    /// The country and network of `ip`: for each database in order, `country.iso_code` (or
    /// `registered_country.iso_code` where a record has no `country`) and
    /// `autonomous_system_number`; the first database that has a valid value for a field
    /// gives it. An IPv4 address written as IPv6 (`::ffff:192.0.2.1`) is looked up as IPv4.
    pub fn lookup(&self, ip: IpAddr) -> Origin {
        let ip = ip.to_canonical();
        let mut origin = Origin::default();
        for reader in &self.readers {
            if origin.country.is_some() && origin.asn.is_some() {
                break;
            }
            let found = lookup_one(reader, ip);
            origin.country = origin.country.or(found.country);
            origin.asn = origin.asn.or(found.asn);
        }
        origin
    }
}

impl GeoIp {
    /// The prefix length of the network the first database with an ASN for `ip` puts it in
    /// (`None` when none has one). An IPv4 address in an IPv6 database is counted in IPv4
    /// bits.
    pub fn network_prefix(&self, ip: IpAddr) -> Option<u8> {
        let ip = ip.to_canonical();
        self.readers.iter().find_map(|reader| {
            let found = reader.lookup(ip).ok()?;
            lookup_one(reader, ip).asn?;
            let prefix = found.network().ok()?.prefix();
            Some(match ip {
                IpAddr::V4(_) if prefix > 32 => prefix.saturating_sub(96),
                _ => prefix,
            })
        })
    }
}

/// The fields read from a record; every other field is skipped.
#[derive(Deserialize)]
struct Record<'a> {
    #[serde(borrow)]
    country: Option<Place<'a>>,
    #[serde(borrow)]
    registered_country: Option<Place<'a>>,
    autonomous_system_number: Option<u32>,
}

#[derive(Deserialize)]
struct Place<'a> {
    #[serde(borrow)]
    iso_code: Option<&'a str>,
}

/// One database's answer; a record that does not decode gives nothing.
fn lookup_one(reader: &Reader<Vec<u8>>, ip: IpAddr) -> Origin {
    let record = match reader.lookup(ip).and_then(|found| found.decode::<Record>()) {
        Ok(Some(record)) => record,
        Ok(None) | Err(_) => return Origin::default(),
    };
    let place = record.country.or(record.registered_country);
    let country = place
        .and_then(|place| place.iso_code)
        .filter(|code| code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()))
        .map(str::to_owned);
    let asn = record.autonomous_system_number.filter(|&asn| asn != 0);
    Origin { country, asn }
}

/// The whole file, refused past [`MAX_DATABASE_BYTES`] before anything is allocated.
fn read_capped(path: &Path) -> Result<Vec<u8>, GeoIpError> {
    let read_error = |source| GeoIpError::Read { path: path.to_owned(), source };
    let file = File::open(path).map_err(read_error)?;
    let size = file.metadata().map_err(read_error)?.len();
    if size > MAX_DATABASE_BYTES {
        return Err(GeoIpError::TooLarge { path: path.to_owned(), size });
    }
    let mut buf = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(MAX_DATABASE_BYTES + 1).read_to_end(&mut buf).map_err(read_error)?;
    if buf.len() as u64 > MAX_DATABASE_BYTES {
        return Err(GeoIpError::TooLarge { path: path.to_owned(), size: buf.len() as u64 });
    }
    Ok(buf)
}

/// Opens a file's bytes with maxminddb and has it verify them whole (see the module's
/// documentation).
fn load(path: &Path, buf: Vec<u8>) -> Result<Reader<Vec<u8>>, GeoIpError> {
    let invalid = |e: maxminddb::MaxMindDbError| GeoIpError::Invalid { path: path.to_owned(), reason: e.to_string() };
    let reader = Reader::from_source(buf).map_err(invalid)?;
    reader.verify().map_err(invalid)?;
    Ok(reader)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn test_db() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/geoip-test.mmdb")
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn origin(country: &str, asn: u32) -> Origin {
        Origin { country: Some(country.to_owned()), asn: Some(asn) }
    }

    // A few MaxMind DB values, enough to write small databases here: the types of the
    // MaxMind DB spec used below, and the marker that starts the metadata section.
    const POINTER: u8 = 1;
    const STRING: u8 = 2;
    const UINT16: u8 = 5;
    const UINT32: u8 = 6;
    const MAP: u8 = 7;
    const UINT64: u8 = 9;
    const ARRAY: u8 = 11;
    const METADATA_MARKER: &[u8] = b"\xab\xcd\xefMaxMind.com";

    fn control(kind: u8, size: usize) -> Vec<u8> {
        assert!(size < 29);
        if kind <= 7 {
            vec![kind << 5 | size as u8]
        } else {
            vec![size as u8, kind - 7]
        }
    }
    fn string(text: &str) -> Vec<u8> {
        [control(STRING, text.len()), text.as_bytes().to_vec()].concat()
    }
    fn uint(kind: u8, n: u64) -> Vec<u8> {
        let bytes: Vec<u8> = n.to_be_bytes().into_iter().skip_while(|&b| b == 0).collect();
        [control(kind, bytes.len()), bytes].concat()
    }
    fn map(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut out = control(MAP, entries.len());
        for (key, value) in entries {
            out.extend(string(key));
            out.extend(value);
        }
        out
    }
    fn country(code: &str) -> Vec<u8> {
        map(&[("iso_code", string(code))])
    }

    /// An IPv6 database of one node whose two records both point at `data`'s first value,
    /// so every address finds it.
    fn one_record_db(data: &[u8]) -> Vec<u8> {
        let metadata = map(&[
            ("binary_format_major_version", uint(UINT16, 2)),
            ("binary_format_minor_version", uint(UINT16, 0)),
            ("build_epoch", uint(UINT64, 1)),
            ("database_type", string("one-record")),
            ("description", map(&[("en", string("one record"))])),
            ("ip_version", uint(UINT16, 6)),
            ("languages", control(ARRAY, 0)),
            ("node_count", uint(UINT32, 1)),
            ("record_size", uint(UINT16, 24)),
        ]);
        // Record value 17 = node_count 1 + the 16-byte separator + offset 0.
        let tree: [u8; 6] = [0, 0, 17, 0, 0, 17];
        [&tree[..], &[0u8; 16][..], data, METADATA_MARKER, &metadata].concat()
    }

    fn geoip_of(bytes: Vec<u8>) -> GeoIp {
        GeoIp { readers: vec![load(Path::new("test"), bytes).unwrap()] }
    }

    fn refusal(bytes: Vec<u8>) -> String {
        match load(Path::new("hostile.mmdb"), bytes) {
            Ok(_) => panic!("a hostile database was accepted"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn each_network_gives_its_country_and_asn() {
        let geoip = GeoIp::open(&[test_db()]).unwrap();
        let cases = [
            ("192.0.2.0", origin("ES", 64500)),
            ("192.0.2.255", origin("ES", 64500)),
            ("198.51.100.7", origin("GB", 64501)),
            ("203.0.113.200", origin("ES", 64500)),
            ("127.0.0.1", origin("ES", 64500)),
            ("127.255.255.254", origin("ES", 64500)),
            ("2001:db8::1", origin("DE", 64502)),
            ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", origin("DE", 64502)),
            ("::1", origin("ES", 64500)),
            // IPv4 written as IPv6, as a dual-stack socket reports it.
            ("::ffff:198.51.100.7", origin("GB", 64501)),
        ];
        for (address, expected) in cases {
            assert_eq!(geoip.lookup(ip(address)), expected, "{address}");
        }
    }

    #[test]
    fn addresses_outside_the_networks_are_unknown() {
        let geoip = GeoIp::open(&[test_db()]).unwrap();
        for address in [
            "0.0.0.0",
            "10.1.2.3",
            "126.255.255.255",
            "128.0.0.0",
            "192.0.1.255",
            "192.0.3.0",
            "198.51.101.1",
            "203.0.112.255",
            "255.255.255.255",
            "::",
            "::2",
            "2001:db7:ffff::1",
            "2001:db9::",
            "fe80::1",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        ] {
            assert_eq!(geoip.lookup(ip(address)), Origin::default(), "{address}");
        }
        assert_eq!(geoip.lookup(IpAddr::V6(Ipv6Addr::UNSPECIFIED)), Origin::default());
    }

    #[test]
    fn describe_reads_like_a_place() {
        assert_eq!(origin("ES", 3352).describe(), "ES, AS3352");
        let country_only = Origin { country: Some("ES".to_owned()), asn: None };
        assert_eq!(country_only.describe(), "ES");
        let asn_only = Origin { country: None, asn: Some(3352) };
        assert_eq!(asn_only.describe(), "AS3352");
        assert_eq!(Origin::default().describe(), "unknown");
    }

    #[test]
    fn the_test_database_passes_the_crates_own_verifier() {
        let reader = load(&test_db(), std::fs::read(test_db()).unwrap()).unwrap();
        reader.verify().unwrap();
        assert_eq!(reader.metadata().database_type, "qxfer-test");
        assert_eq!(reader.metadata().record_size, 24);
        assert_eq!(reader.metadata().ip_version, 6);
    }

    #[test]
    fn open_needs_a_database() {
        assert!(matches!(GeoIp::open(&[]), Err(GeoIpError::NoDatabase)));
    }

    #[test]
    fn open_names_a_missing_file() {
        let path = PathBuf::from("/nonexistent/GeoLite2-Country.mmdb");
        let error = GeoIp::open(&[test_db(), path]).unwrap_err();
        assert!(matches!(error, GeoIpError::Read { .. }), "{error:?}");
        let message = error.to_string();
        assert!(message.contains("/nonexistent/GeoLite2-Country.mmdb"), "{message}");
    }

    #[test]
    fn open_names_a_file_that_is_not_a_database() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
        let error = GeoIp::open(std::slice::from_ref(&path)).unwrap_err();
        assert!(matches!(error, GeoIpError::Invalid { .. }), "{error:?}");
        let message = error.to_string();
        assert!(message.contains(&*path.to_string_lossy()), "{message}");
        assert!(message.contains("not a usable MaxMind DB"), "{message}");
        assert!(message.contains("could not find MaxMind DB metadata"), "{message}");
    }

    #[test]
    fn the_same_database_twice_answers_the_same() {
        let geoip = GeoIp::open(&[test_db(), test_db()]).unwrap();
        assert_eq!(geoip.lookup(ip("192.0.2.1")), origin("ES", 64500));
        assert_eq!(geoip.lookup(ip("2001:db8::1")), origin("DE", 64502));
        assert_eq!(geoip.lookup(ip("10.0.0.1")), Origin::default());
    }

    #[test]
    fn the_first_database_with_a_field_gives_it() {
        // First a country-only database (every address: FR), then the test database.
        let first = load(Path::new("country"), one_record_db(&map(&[("country", country("FR"))]))).unwrap();
        let second = load(&test_db(), std::fs::read(test_db()).unwrap()).unwrap();
        let geoip = GeoIp { readers: vec![first, second] };
        let fr = |asn| Origin { country: Some("FR".to_owned()), asn };
        assert_eq!(geoip.lookup(ip("192.0.2.1")), fr(Some(64500)));
        assert_eq!(geoip.lookup(ip("2001:db8::1")), fr(Some(64502)));
        assert_eq!(geoip.lookup(ip("10.0.0.1")), fr(None));

        // The other way round, the test database's countries come first.
        let geoip = GeoIp { readers: geoip.readers.into_iter().rev().collect() };
        assert_eq!(geoip.lookup(ip("192.0.2.1")), origin("ES", 64500));
        assert_eq!(geoip.lookup(ip("10.0.0.1")), fr(None));
    }

    #[test]
    fn country_codes_and_asns_are_checked() {
        let anywhere = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        let asn = |n| ("autonomous_system_number", uint(UINT32, n));
        let cases: Vec<(Vec<u8>, Origin)> = vec![
            // Only two ASCII capitals make a code.
            (map(&[("country", country("es")), asn(7)]), Origin { country: None, asn: Some(7) }),
            (map(&[("country", country("ESP"))]), Origin::default()),
            (map(&[("country", country("E"))]), Origin::default()),
            (map(&[("country", country("E1"))]), Origin::default()),
            (map(&[("country", country(""))]), Origin::default()),
            (map(&[("country", country("ÉS"))]), Origin::default()),
            // AS 0 is reserved.
            (map(&[("country", country("PT")), asn(0)]), Origin { country: Some("PT".to_owned()), asn: None }),
            (map(&[asn(u64::from(u32::MAX))]), Origin { country: None, asn: Some(u32::MAX) }),
            // registered_country stands in only where country is absent.
            (map(&[("registered_country", country("NL")), asn(1)]), origin("NL", 1)),
            (
                map(&[("country", country("BE")), ("registered_country", country("NL"))]),
                Origin { country: Some("BE".to_owned()), asn: None },
            ),
            (map(&[("country", map(&[])), ("registered_country", country("NL"))]), Origin::default()),
            // Other fields are skipped, whatever they hold.
            (
                map(&[
                    ("city", map(&[("names", map(&[("en", string("Madrid"))]))])),
                    ("country", country("ES")),
                    asn(3352),
                ]),
                origin("ES", 3352),
            ),
            // A value of the wrong type spoils its record: nothing from it.
            (map(&[("country", country("ES")), ("autonomous_system_number", string("3352"))]), Origin::default()),
            (map(&[("country", string("ES")), asn(3352)]), Origin::default()),
            (map(&[("autonomous_system_number", uint(UINT64, 1 << 32))]), Origin::default()),
            (string("ES"), Origin::default()),
        ];
        for (record, expected) in cases {
            let geoip = geoip_of(one_record_db(&record));
            assert_eq!(geoip.lookup(anywhere), expected, "{record:02x?}");
        }
    }

    #[test]
    fn hostile_layouts_are_refused_at_open() {
        // A map whose value points back at the map: a loop.
        let looped = [control(MAP, 1), string("a"), vec![POINTER << 5, 0]].concat();
        assert!(refusal(one_record_db(&looped)).contains("cyclic"));
        // Two pointers pointing at each other.
        let pointer_pair = [vec![POINTER << 5, 2], vec![POINTER << 5, 0]].concat();
        assert!(refusal(one_record_db(&pointer_pair)).contains("cyclic"));
        // Arrays nested past maxminddb's limit of 128.
        let nested = |levels: usize| {
            let mut value = string("x");
            for _ in 0..levels {
                value = [control(ARRAY, 1), value].concat();
            }
            value
        };
        assert!(refusal(one_record_db(&nested(200))).contains("maximum data structure depth"));
        // Deep, within the limit, under a field a lookup skips.
        let deep = geoip_of(one_record_db(&map(&[("country", country("ES")), ("deep", nested(100))])));
        assert_eq!(deep.lookup(ip("192.0.2.1")).country.as_deref(), Some("ES"));
        // Extended type 0xff (maxminddb 0.27 would overflow a u8 adding 7).
        assert!(refusal(one_record_db(&[0x00, 0xff])).contains("unknown data type"));
        // A string longer than the data section.
        assert!(refusal(one_record_db(&[STRING << 5 | 5, b'a'])).contains("string of size 5"));

        let good = one_record_db(&map(&[("country", country("ES"))]));
        assert!(load(Path::new("good"), good.clone()).is_ok());
        // A tree record pointing past the data section.
        let mut past = good.clone();
        past[2] = 200;
        assert!(refusal(past).contains("invalid location"));
        // A tree record pointing into the separator.
        let mut separator = good.clone();
        separator[2] = 5;
        assert!(refusal(separator).contains("invalid location"));
        // A separator that is not zero.
        let mut dirty = good.clone();
        dirty[10] = 1;
        assert!(refusal(dirty).contains("data separator"));
        // A node_count far larger than the file.
        let mut huge = good.clone();
        let at = good.windows(11).position(|w| w == b"node_count\xc1").unwrap() + 10;
        huge.splice(at..at + 2, [0xc4, 0x7f, 0xff, 0xff, 0xff]);
        assert!(refusal(huge).contains("search tree extends beyond"));
        // The marker alone, and nothing at all.
        assert!(refusal(METADATA_MARKER.to_vec()).contains("end of buffer"));
        assert!(refusal(Vec::new()).contains("could not find MaxMind DB metadata"));
    }

    /// Every truncation and every byte flipped in the test database: open refuses or the
    /// lookups answer, and nothing panics.
    #[test]
    fn damaged_copies_never_panic() {
        let original = std::fs::read(test_db()).unwrap();
        let addresses: Vec<IpAddr> = ["192.0.2.1", "127.0.0.1", "10.0.0.1", "2001:db8::1", "::1", "fe80::1"]
            .iter()
            .map(|text| ip(text))
            .collect();
        let try_one = |bytes: Vec<u8>| {
            if let Ok(reader) = load(Path::new("damaged"), bytes) {
                let geoip = GeoIp { readers: vec![reader] };
                for &address in &addresses {
                    geoip.lookup(address);
                }
            }
        };
        for len in 0..original.len() {
            try_one(original[..len].to_vec());
        }
        for at in 0..original.len() {
            for flip in [0x01, 0x10, 0x80, 0xff] {
                let mut damaged = original.clone();
                damaged[at] ^= flip;
                try_one(damaged);
            }
        }
    }

    /// The script's `--second` database, opened before the test database. Needs python3;
    /// without it the test says so and passes.
    #[test]
    fn the_scripts_second_database_merges_field_by_field() {
        let dir = tempfile::tempdir().unwrap();
        let second = dir.path().join("second.mmdb");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/make-geoip-test.py");
        let run = std::process::Command::new("python3").arg(&script).arg("--second").arg(&second).output();
        match run {
            Ok(out) => assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr)),
            Err(e) => {
                eprintln!("skipped: python3 could not be started ({e})");
                return;
            }
        }
        let geoip = GeoIp::open(&[second, test_db()]).unwrap();
        let cases = [
            ("192.0.2.1", origin("FR", 64500)),
            ("198.51.100.1", origin("GB", 64999)),
            ("203.0.113.1", origin("ES", 64500)),
            ("2001:db8::1", origin("NL", 64502)),
            ("127.0.0.1", origin("ES", 64500)),
            ("::1", origin("ES", 64500)),
        ];
        for (address, expected) in cases {
            assert_eq!(geoip.lookup(ip(address)), expected, "{address}");
        }
        assert_eq!(geoip.lookup(ip("10.0.0.1")), Origin::default());
    }
}
