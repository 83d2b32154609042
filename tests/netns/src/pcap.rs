//! Classic pcap files of Ethernet frames (the format tcpdump writes by
//! default): read the C prototype's captures, write what a test saw.

use std::io;

const MAGIC_LE: [u8; 4] = [0xd4, 0xc3, 0xb2, 0xa1];
const LINKTYPE_ETHERNET: u32 = 1;

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("pcap: {what}"))
}

/// The frames of a little-endian classic pcap file of Ethernet frames, as
/// captured (cut to the snap length if the capture cut them).
pub fn frames(file: &[u8]) -> io::Result<Vec<Vec<u8>>> {
    let u32_at = |at: usize| -> io::Result<u32> {
        file.get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(|| bad("cut short"))
    };
    if file.get(..4) != Some(&MAGIC_LE[..]) {
        return Err(bad("not a little-endian classic pcap file"));
    }
    if u32_at(20)? != LINKTYPE_ETHERNET {
        return Err(bad("not of Ethernet frames"));
    }
    let mut frames = Vec::new();
    let mut at = 24;
    while at < file.len() {
        let captured = u32_at(at + 8)? as usize;
        at += 16;
        let frame = file.get(at..at + captured).ok_or_else(|| bad("a frame cut short"))?;
        frames.push(frame.to_vec());
        at += captured;
    }
    Ok(frames)
}

/// A pcap file of `frames` (timestamps zero), as [`frames`] reads it.
pub fn file(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&MAGIC_LE);
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
    for f in frames {
        let len = u32::try_from(f.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_frames_read_back_and_garbage_is_an_error() {
        let fs = vec![vec![1u8; 60], vec![2u8; 1514], Vec::new()];
        assert_eq!(frames(&file(&fs)).unwrap(), fs);
        assert!(frames(b"nope").is_err());
        let mut cut = file(&fs);
        cut.truncate(cut.len() - 10);
        assert!(frames(&cut).is_err());
    }
}
