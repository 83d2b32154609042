//! oecho's exchange, as the C tools do it.
#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

use o7s_oping::echo::{BUF_SIZE, GREETING, SERVER_NAME, client_line, reply, server_line, text};

#[test]
fn the_client_greets_oecho_with_a_c_string() {
    assert_eq!(SERVER_NAME, "oecho");
    assert_eq!(GREETING.len(), 16, "strlen + 1: the NUL travels");
    assert_eq!(GREETING.last(), Some(&0));
}

#[test]
fn the_server_echoes_what_it_read_and_both_print_up_to_the_nul() {
    assert_eq!(reply(GREETING), GREETING);
    assert_eq!(server_line(GREETING), "Message from client is Client says hi!.");
    assert_eq!(client_line(reply(GREETING)), "Server replied with Client says hi!");
}

#[test]
fn the_server_echoes_only_the_first_256_octets_of_a_longer_sdu() {
    let long = vec![b'a'; 300];
    assert_eq!(reply(&long).len(), BUF_SIZE);
    assert_eq!(reply(&long), &long[..256]);
}

#[test]
fn text_without_a_nul_is_printed_whole_and_bad_utf8_is_replaced() {
    assert_eq!(text(b"plain"), "plain");
    assert_eq!(text(b"a\0b"), "a");
    assert_eq!(text(b"\xFFok"), "\u{FFFD}ok");
    assert_eq!(text(b""), "");
}
