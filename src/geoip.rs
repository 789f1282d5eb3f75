//! The country (ISO 3166-1 code) and network (autonomous system number) a login comes from,
//! so that account recovery can tell a known place from a new one.
//!
//! The databases are the operator's: MaxMind DB files (`.mmdb`), typically
//! GeoLite2-Country.mmdb and GeoLite2-ASN.mmdb, which MaxMind ships as separate files. The
//! listener opens them once, at start, reading each whole into memory (they are a few MiB);
//! nothing here downloads or refreshes them, and a replaced file is seen at the next start.
//!
//! A database is input from outside the program, so [`GeoIp::open`] checks a file's whole
//! layout before the `maxminddb` crate reads it: the metadata; a search tree that fits in the
//! file, followed by the 16-byte separator, whose records point at nodes or into the data
//! section; and every value those records reach (known types, lengths inside the section,
//! string keys, no pointer to a pointer, nesting at most 32 deep counting pointers, which
//! also ends pointer loops). maxminddb 0.27 indexes the search tree without bounds checks
//! and skips unwanted values by unbounded recursion, so a file that failed these checks
//! could make it panic or overflow the stack. Once open, a lookup cannot fail: a missing
//! record, a value of the wrong type and a malformed code all read as unknown.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use maxminddb::Reader;
use serde::Deserialize;

/// The largest database file opened, since it is read whole into memory. The Country and
/// ASN databases are a few MiB; GeoIP2-City, more than needed here, is about 130 MiB.
pub const MAX_DATABASE_BYTES: u64 = 512 * 1024 * 1024;

/// How deep a value may nest, each map, array and pointer a level. GeoIP2-City's deepest
/// (record → subdivisions → a subdivision → names → a name, pointers between) is about 9.
const MAX_NESTING: usize = 32;

/// Starts the metadata section, at the end of the file (the last occurrence counts).
const METADATA_MARKER: &[u8] = b"\xab\xcd\xefMaxMind.com";

/// The zero bytes between the search tree and the data section.
const SEPARATOR_LEN: usize = 16;

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

/// Checks a file's bytes, then hands them to maxminddb.
fn load(path: &Path, buf: Vec<u8>) -> Result<Reader<Vec<u8>>, GeoIpError> {
    let invalid = |reason: String| GeoIpError::Invalid { path: path.to_owned(), reason };
    check_layout(&buf).map_err(invalid)?;
    Reader::from_source(buf).map_err(|e| invalid(e.to_string()))
}

// --- the layout check -------------------------------------------------------------------
// Types and encodings from the MaxMind DB spec, read the way maxminddb 0.27 reads them.

const POINTER: u8 = 1;
const STRING: u8 = 2;
const DOUBLE: u8 = 3;
const BYTES: u8 = 4;
const UINT16: u8 = 5;
const UINT32: u8 = 6;
const MAP: u8 = 7;
const INT32: u8 = 8;
const UINT64: u8 = 9;
const UINT128: u8 = 10;
const ARRAY: u8 = 11;
const BOOL: u8 = 14;
const FLOAT: u8 = 15;

/// Checks everything a lookup can reach: metadata, search tree, separator and the values
/// the tree points at. A reason on failure.
fn check_layout(buf: &[u8]) -> Result<(), String> {
    let marker = buf
        .windows(METADATA_MARKER.len())
        .rposition(|w| w == METADATA_MARKER)
        .ok_or("it has no MaxMind DB metadata marker")?;
    let mut metadata = Section::new(&buf[marker + METADATA_MARKER.len()..]);
    metadata.value_at(0, 0).map_err(|e| format!("metadata: {e}"))?;
    let numbers = metadata.top_level_numbers().map_err(|e| format!("metadata: {e}"))?;
    let number =
        |key: &str| numbers.get(key.as_bytes()).copied().ok_or_else(|| format!("the metadata has no number {key}"));
    let node_count = number("node_count")?;
    let record_size = number("record_size")?;
    let ip_version = number("ip_version")?;
    let major_version = number("binary_format_major_version")?;
    if major_version != 2 {
        return Err(format!("format version {major_version}, not 2"));
    }
    if ip_version != 4 && ip_version != 6 {
        return Err(format!("ip_version {ip_version}, not 4 or 6"));
    }
    if !matches!(record_size, 24 | 28 | 32) {
        return Err(format!("record_size {record_size}, not 24, 28 or 32"));
    }
    let node_count =
        u32::try_from(node_count).ok().filter(|&n| n > 0).ok_or_else(|| format!("node_count {node_count}"))?;

    // node_count < 2^32 and record_size <= 32: the product fits in a u64.
    let tree_len = u64::from(node_count) * record_size / 4;
    let data_start = tree_len + SEPARATOR_LEN as u64;
    if data_start > marker as u64 {
        return Err(format!(
            "its search tree ({node_count} nodes) is longer than the {marker} bytes before \
             the metadata"
        ));
    }
    // Both are at most `marker`, a usize.
    let (tree_len, data_start) = (tree_len as usize, data_start as usize);
    if buf[tree_len..data_start].iter().any(|&b| b != 0) {
        return Err("no 16 zero bytes after the search tree".to_owned());
    }

    let tree = &buf[..tree_len];
    let mut data = Section::new(&buf[data_start..marker]);
    let nodes = node_count as usize;
    for node in 0..nodes {
        for side in 0..2 {
            let record = tree_record(tree, record_size, node, side).ok_or("the search tree ends inside a node")?;
            if record <= nodes {
                continue; // another node, or "no data" (== node_count)
            }
            let offset = record - nodes;
            let offset = offset
                .checked_sub(SEPARATOR_LEN)
                .filter(|&offset| offset < data.bytes.len())
                .ok_or_else(|| format!("node {node} points outside the data section"))?;
            data.value_at(offset, 0).map_err(|e| format!("the record at {offset}: {e}"))?;
        }
    }
    Ok(())
}

/// Record `side` (0 left, 1 right) of a search-tree node.
fn tree_record(tree: &[u8], record_size: u64, node: usize, side: usize) -> Option<usize> {
    let base = node.checked_mul(record_size as usize)? / 4;
    let byte = |i: usize| tree.get(base.checked_add(i)?).map(|&b| usize::from(b));
    Some(match record_size {
        24 => {
            let at = side * 3;
            byte(at)? << 16 | byte(at + 1)? << 8 | byte(at + 2)?
        }
        28 => {
            // The middle byte holds the top four bits of both records.
            let high = if side == 0 { byte(3)? >> 4 } else { byte(3)? & 0x0f };
            let at = side * 4;
            high << 24 | byte(at)? << 16 | byte(at + 1)? << 8 | byte(at + 2)?
        }
        _ => {
            let at = side * 4;
            byte(at)? << 24 | byte(at + 1)? << 16 | byte(at + 2)? << 8 | byte(at + 3)?
        }
    })
}

/// A value's control bytes: its type, its size (for a pointer, the raw five size bits) and
/// where its payload starts.
struct Header {
    kind: u8,
    size: usize,
    body: usize,
}

/// The data section or the metadata section (each one's pointers count from its start),
/// with the heights of the values checked so far, so each is checked once.
struct Section<'a> {
    bytes: &'a [u8],
    heights: HashMap<usize, usize>,
}

impl<'a> Section<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Section { bytes, heights: HashMap::new() }
    }

    fn byte(&self, at: usize) -> Result<usize, String> {
        self.bytes.get(at).map(|&b| usize::from(b)).ok_or_else(|| format!("a value at {at} runs past the end"))
    }

    fn header(&self, at: usize) -> Result<Header, String> {
        let control = self.byte(at)?;
        let mut body = at + 1;
        let mut kind = (control >> 5) as u8;
        if kind == 0 {
            // Extended types 8..=15 are stored as 1..=8 in the next byte.
            let extended = self.byte(body)?;
            body += 1;
            if !(1..=8).contains(&extended) {
                return Err(format!("unknown extended type {extended} at {at}"));
            }
            kind = extended as u8 + 7;
        }
        let bits = control & 0x1f;
        let (size, extra) = match (kind, bits) {
            // maxminddb reads size bytes after pointers too: refuse what it would misread.
            (POINTER, 29..) => return Err(format!("a malformed pointer at {at}")),
            (POINTER, _) | (_, 0..=28) => (bits, 0),
            (_, 29) => (29 + self.byte(body)?, 1),
            (_, 30) => (285 + (self.byte(body)? << 8 | self.byte(body + 1)?), 2),
            (_, _) => {
                let extra = self.byte(body)? << 16 | self.byte(body + 1)? << 8;
                (65_821 + (extra | self.byte(body + 2)?), 3)
            }
        };
        Ok(Header { kind, size, body: body + extra })
    }

    /// Where a pointer points and where it ends.
    fn pointer(&self, header: &Header) -> Result<(usize, usize), String> {
        let len = (header.size >> 3 & 3) + 1;
        let end = header.body + len;
        let bytes = self.bytes.get(header.body..end).ok_or("a pointer runs past the end")?;
        let high = if len == 4 { 0 } else { header.size & 7 };
        let value = bytes.iter().fold(high, |acc, &b| acc << 8 | usize::from(b));
        let bias = match len {
            2 => 2048,
            3 => 526_336,
            _ => 0,
        };
        let target = value + bias;
        if target >= self.bytes.len() {
            return Err(format!("a pointer at {} points past the end", header.body));
        }
        Ok((target, end))
    }

    /// Checks the value at `offset` (a record or a pointer's target) and returns its height.
    fn value_at(&mut self, offset: usize, depth: usize) -> Result<usize, String> {
        let height = match self.heights.get(&offset) {
            Some(&height) => height,
            None => {
                let (_, height) = self.value(offset, depth)?;
                self.heights.insert(offset, height);
                height
            }
        };
        if depth + height > MAX_NESTING {
            return Err(too_deep(offset));
        }
        Ok(height)
    }

    /// Checks the value at `at`: where it ends and its height (1 for a number or string).
    fn value(&mut self, at: usize, depth: usize) -> Result<(usize, usize), String> {
        if depth >= MAX_NESTING {
            return Err(too_deep(at));
        }
        let header = self.header(at)?;
        let size = header.size;
        match header.kind {
            POINTER => {
                let (target, end) = self.pointer(&header)?;
                if self.header(target)?.kind == POINTER {
                    return Err(format!("the pointer at {at} points at a pointer"));
                }
                let height = self.value_at(target, depth + 1)?;
                Ok((end, height + 1))
            }
            MAP | ARRAY => {
                let mut next = header.body;
                let mut height = 0;
                for _ in 0..size {
                    if header.kind == MAP {
                        next = self.key(next)?.1;
                    }
                    let (end, inner) = self.value(next, depth + 1)?;
                    next = end;
                    height = height.max(inner);
                }
                Ok((next, height + 1))
            }
            BOOL if size <= 1 => Ok((header.body, 1)),
            kind => {
                let fits = match kind {
                    STRING | BYTES => true,
                    DOUBLE => size == 8,
                    FLOAT => size == 4,
                    UINT16 => size <= 2,
                    UINT32 | INT32 => size <= 4,
                    UINT64 => size <= 8,
                    UINT128 => size <= 16,
                    _ => return Err(format!("a value of type {kind} at {at}")),
                };
                if !fits {
                    return Err(format!("a value of type {kind} and size {size} at {at}"));
                }
                let end = header.body + size;
                if end > self.bytes.len() {
                    return Err(format!("a value at {at} runs past the end"));
                }
                Ok((end, 1))
            }
        }
    }

    /// A map key, a string or a pointer to one: its bytes and where it ends.
    fn key(&self, at: usize) -> Result<(&'a [u8], usize), String> {
        let header = self.header(at)?;
        let (string, end) = match header.kind {
            STRING => (header, None),
            POINTER => {
                let (target, end) = self.pointer(&header)?;
                (self.header(target)?, Some(end))
            }
            _ => return Err(format!("a map key at {at} is not a string")),
        };
        let string_end = string.body + string.size;
        let bytes = match string.kind {
            STRING => self.bytes.get(string.body..string_end),
            _ => None,
        }
        .ok_or_else(|| format!("a map key at {at} is not a string"))?;
        Ok((bytes, end.unwrap_or(string_end)))
    }

    /// The unsigned numbers directly in the map at offset 0, by key. Call after
    /// `value_at(0, 0)` succeeded.
    fn top_level_numbers(&mut self) -> Result<HashMap<&'a [u8], u64>, String> {
        let header = self.header(0)?;
        if header.kind != MAP {
            return Err("not a map".to_owned());
        }
        let mut numbers = HashMap::new();
        let mut next = header.body;
        for _ in 0..header.size {
            let (key, value) = self.key(next)?;
            let mut number = self.header(value)?;
            if number.kind == POINTER {
                number = self.header(self.pointer(&number)?.0)?;
            }
            if matches!(number.kind, UINT16 | UINT32 | UINT64) {
                let bytes =
                    self.bytes.get(number.body..number.body + number.size).ok_or("a number runs past the end")?;
                let n = bytes.iter().fold(0u64, |acc, &b| acc << 8 | u64::from(b));
                numbers.insert(key, n);
            }
            next = self.value(value, 1)?.0;
        }
        Ok(numbers)
    }
}

fn too_deep(at: usize) -> String {
    format!("values nest more than {MAX_NESTING} deep at {at}, or pointers form a loop")
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

    // A few MaxMind DB values, enough to write small databases here.
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
        assert_eq!(reader.metadata.database_type, "qxfer-test");
        assert_eq!(reader.metadata.record_size, 24);
        assert_eq!(reader.metadata.ip_version, 6);
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
        assert!(message.contains("metadata marker"), "{message}");
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
        assert!(refusal(one_record_db(&looped)).contains("loop"));
        // A pointer to a pointer.
        let pointer_pair = [vec![POINTER << 5, 2], vec![POINTER << 5, 0]].concat();
        assert!(refusal(one_record_db(&pointer_pair)).contains("points at a pointer"));
        // Arrays nested past the limit.
        let mut deep = string("x");
        for _ in 0..MAX_NESTING {
            deep = [control(ARRAY, 1), deep].concat();
        }
        assert!(refusal(one_record_db(&deep)).contains("nest more than"));
        // At the limit: the record map, MAX_NESTING - 2 arrays and a string, skipped on lookup.
        let mut deepest = string("x");
        for _ in 2..MAX_NESTING {
            deepest = [control(ARRAY, 1), deepest].concat();
        }
        let at_limit = geoip_of(one_record_db(&map(&[("country", country("ES")), ("deep", deepest)])));
        assert_eq!(at_limit.lookup(ip("192.0.2.1")).country.as_deref(), Some("ES"));
        // Extended type 0xff (maxminddb 0.27 would overflow a u8 adding 7).
        assert!(refusal(one_record_db(&[0x00, 0xff])).contains("extended type"));
        // A string longer than the data section.
        assert!(refusal(one_record_db(&[STRING << 5 | 5, b'a'])).contains("past the end"));
        // A map key that is a number.
        let number_key = [control(MAP, 1), uint(UINT16, 1), string("a")].concat();
        assert!(refusal(one_record_db(&number_key)).contains("not a string"));

        let good = one_record_db(&map(&[("country", country("ES"))]));
        assert!(load(Path::new("good"), good.clone()).is_ok());
        // A tree record pointing past the data section.
        let mut past = good.clone();
        past[2] = 200;
        assert!(refusal(past).contains("outside the data section"));
        // A tree record pointing into the separator.
        let mut separator = good.clone();
        separator[2] = 5;
        assert!(refusal(separator).contains("outside the data section"));
        // A separator that is not zero.
        let mut dirty = good.clone();
        dirty[10] = 1;
        assert!(refusal(dirty).contains("16 zero bytes"));
        // A node_count far larger than the file.
        let mut huge = good.clone();
        let at = good.windows(11).position(|w| w == b"node_count\xc1").unwrap() + 10;
        huge.splice(at..at + 2, [0xc4, 0x7f, 0xff, 0xff, 0xff]);
        assert!(refusal(huge).contains("longer than"));
        // The marker alone, and nothing at all.
        assert!(refusal(METADATA_MARKER.to_vec()).contains("metadata"));
        assert!(refusal(Vec::new()).contains("metadata marker"));
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
