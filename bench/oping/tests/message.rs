//! The oping message of PROTOCOL.md §19.4, octet for octet.
#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

use core::time::Duration;

use o7s_oping::message::{HEADER_LEN, Message, MessageError, MessageType, SduSize, SduSizeError, reply_in_place};
use proptest::prelude::*;

/// Request id 0x01020304 sent at 1 700 000 000 s + 123 456 789 ns, 64 octets.
const REQUEST: [u8; 64] = {
    let mut sdu = [0u8; 64];
    let header: [u8; HEADER_LEN] = [
        0x00, 0x00, 0x00, 0x00, // type 0, BE: echo request
        0x01, 0x02, 0x03, 0x04, // id, BE
        0x00, 0xF1, 0x53, 0x65, 0x00, 0x00, 0x00, 0x00, // tv_sec 0x6553F100, host order (LE)
        0x15, 0xCD, 0x5B, 0x07, 0x00, 0x00, 0x00, 0x00, // tv_nsec 0x075BCD15, host order (LE)
    ];
    let mut i = 0;
    while i < HEADER_LEN {
        sdu[i] = header[i];
        i += 1;
    }
    sdu
};

fn request() -> Message {
    Message::request(0x0102_0304, Duration::new(1_700_000_000, 123_456_789))
}

#[test]
fn a_request_encodes_to_the_hand_written_vector() {
    let mut sdu = [0xEE; 64];
    request().encode(&mut sdu).unwrap();
    assert_eq!(sdu, REQUEST);
}

#[test]
fn the_hand_written_vector_decodes_to_the_request() {
    assert_eq!(Message::decode(&REQUEST).unwrap(), request());
}

#[test]
fn encoding_zeroes_the_padding_of_a_dirty_buffer_up_to_the_sdu_size() {
    let mut sdu = [0xEE; 1500];
    request().encode(&mut sdu).unwrap();
    assert_eq!(&sdu[..HEADER_LEN], &REQUEST[..HEADER_LEN]);
    assert!(sdu[HEADER_LEN..].iter().all(|&b| b == 0));
}

#[test]
fn encoding_refuses_sdus_outside_64_to_1500_octets() {
    for len in [0, HEADER_LEN, 63, 1501, 9000] {
        let mut sdu = vec![0; len];
        let err = request().encode(&mut sdu).unwrap_err();
        assert_eq!(err, MessageError::SizeOutOfRange { len });
        assert!(err.to_string().contains(&format!("{len} octets")), "{err}");
    }
    for len in [64, 1500] {
        request().encode(&mut vec![0; len]).unwrap();
    }
}

#[test]
fn a_reply_differs_from_its_request_in_the_type_octet_only() {
    let mut sdu = REQUEST;
    reply_in_place(&mut sdu).unwrap();
    let mut expected = REQUEST;
    expected[3] = 0x01;
    assert_eq!(sdu, expected);
    assert_eq!(
        Message::decode(&sdu).unwrap(),
        Message {
            kind: MessageType::EchoReply,
            ..request()
        }
    );
}

#[test]
fn the_server_refuses_to_answer_anything_but_a_request() {
    let mut reply = REQUEST;
    reply[3] = 1;
    assert_eq!(reply_in_place(&mut reply.clone()), Err(MessageError::NotARequest(1)));
    let mut unknown = REQUEST;
    unknown[0] = 0x80;
    assert_eq!(
        reply_in_place(&mut unknown.clone()),
        Err(MessageError::NotARequest(0x8000_0000))
    );
    // Refusal leaves the SDU alone.
    let before = unknown;
    let _ = reply_in_place(&mut unknown);
    assert_eq!(unknown, before);
}

#[test]
fn the_server_answers_requests_of_any_length_from_the_header_to_1500_octets() {
    for len in [HEADER_LEN, 63, 64, 1500] {
        let mut sdu = vec![0u8; len];
        sdu[..HEADER_LEN].copy_from_slice(&REQUEST[..HEADER_LEN]);
        reply_in_place(&mut sdu).unwrap();
        assert_eq!(sdu[3], 1);
    }
    assert_eq!(reply_in_place(&mut [0; 23]), Err(MessageError::Truncated { len: 23 }));
    assert_eq!(reply_in_place(&mut [0; 1501]), Err(MessageError::TooLong { len: 1501 }));
}

#[test]
fn decoding_names_what_is_wrong() {
    assert_eq!(
        Message::decode(&REQUEST[..23]),
        Err(MessageError::Truncated { len: 23 })
    );
    assert_eq!(Message::decode(&[0; 1501]), Err(MessageError::TooLong { len: 1501 }));

    let mut unknown = REQUEST;
    unknown[3] = 2;
    let err = Message::decode(&unknown).unwrap_err();
    assert_eq!(err, MessageError::UnknownType(2));
    assert_eq!(err.to_string(), "unknown oping message type 2");

    let mut bad_nanos = REQUEST;
    bad_nanos[16..24].copy_from_slice(&1_000_000_000u64.to_le_bytes());
    assert_eq!(
        Message::decode(&bad_nanos),
        Err(MessageError::BadNanoseconds(1_000_000_000))
    );
}

#[test]
fn decoding_ignores_the_padding_and_accepts_a_bare_header() {
    let mut padded = REQUEST;
    padded[40] = 0xFF;
    assert_eq!(Message::decode(&padded).unwrap(), request());
    assert_eq!(Message::decode(&REQUEST[..HEADER_LEN]).unwrap(), request());
}

#[test]
fn sdu_sizes_parse_within_64_to_1500_octets() {
    assert_eq!("64".parse::<SduSize>().unwrap().get(), 64);
    assert_eq!("1500".parse::<SduSize>().unwrap().get(), 1500);
    assert_eq!(SduSize::default().get(), 64);
    assert_eq!("63".parse::<SduSize>(), Err(SduSizeError::OutOfRange(63)));
    assert_eq!("1501".parse::<SduSize>(), Err(SduSizeError::OutOfRange(1501)));
    assert_eq!("-1".parse::<SduSize>(), Err(SduSizeError::NotANumber("-1".into())));
    assert_eq!(
        "1501".parse::<SduSize>().unwrap_err().to_string(),
        "size 1501 octets is outside the oping range of 64–1500 octets"
    );
}

#[test]
fn message_types_have_the_c_values() {
    assert_eq!(MessageType::EchoRequest.to_u32(), 0);
    assert_eq!(MessageType::EchoReply.to_u32(), 1);
    assert_eq!(MessageType::from_u32(2), None);
}

fn any_message() -> impl Strategy<Value = Message> {
    (any::<bool>(), any::<u32>(), any::<u64>(), 0..1_000_000_000u32).prop_map(|(reply, id, secs, nanos)| Message {
        kind: if reply {
            MessageType::EchoReply
        } else {
            MessageType::EchoRequest
        },
        id,
        sent: Duration::new(secs, nanos),
    })
}

proptest! {
    #[test]
    fn every_message_round_trips_at_every_size(message in any_message(), size in 64usize..=1500) {
        let mut sdu = vec![0xA5; size];
        message.encode(&mut sdu).unwrap();
        prop_assert_eq!(Message::decode(&sdu).unwrap(), message);
        prop_assert!(sdu[HEADER_LEN..].iter().all(|&b| b == 0));
    }

    #[test]
    fn replying_in_place_equals_encoding_the_reply(id in any::<u32>(), secs in any::<u64>(), nanos in 0..1_000_000_000u32, size in 64usize..=1500) {
        let request = Message::request(id, Duration::new(secs, nanos));
        let mut sdu = vec![0; size];
        request.encode(&mut sdu).unwrap();
        reply_in_place(&mut sdu).unwrap();
        let mut expected = vec![0; size];
        Message { kind: MessageType::EchoReply, ..request }.encode(&mut expected).unwrap();
        prop_assert_eq!(sdu, expected);
    }

    #[test]
    fn decoding_arbitrary_octets_never_panics(sdu in proptest::collection::vec(any::<u8>(), 0..1600)) {
        let _ = Message::decode(&sdu);
        let _ = reply_in_place(&mut sdu.clone());
    }
}
