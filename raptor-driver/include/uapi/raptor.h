/* SPDX-License-Identifier: (GPL-2.0-only WITH Linux-syscall-note) OR LGPL-2.1-only */
/*
 * raptor: Ouroboros directly over layer 1 on a NetFPGA card.
 *
 * The user-space ABI of /dev/raptorN. raptor-driver/README.md describes it
 * in full; the o7s raptor IPCP mirrors this file, so every struct here has
 * fixed-size fields, explicit padding and a size that is a multiple of 8,
 * and nothing in it changes without a new RAPTOR_ABI_VERSION.
 *
 * A frame, as written to and read from the device:
 *
 *   octet 0-1  length, little-endian, counting the whole frame (these
 *              3 header octets included)
 *   octet 2    EID (1: management, flows from 2)
 *   octet 3-   payload
 *
 * with RAPTOR_MIN_FRAME <= length <= RAPTOR_MAX_FRAME.
 */
#ifndef _UAPI_RAPTOR_H
#define _UAPI_RAPTOR_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* Bumped on any incompatible change of what this file describes. */
#define RAPTOR_ABI_VERSION	1

/* Frame geometry (octets). */
#define RAPTOR_HEADER_LEN	3
#define RAPTOR_MIN_FRAME	RAPTOR_HEADER_LEN
/* The card's buffers are a 4 KiB page less 200 octets; a frame is shorter. */
#define RAPTOR_PAGE_LEN		(4096 - 200)
#define RAPTOR_MAX_FRAME	(RAPTOR_PAGE_LEN - 1)
#define RAPTOR_MGMT_EID		1

/* struct raptor_info.mode */
#define RAPTOR_MODE_PCI		1	/* a NetFPGA card on PCI(e) */
#define RAPTOR_MODE_LOOPBACK	2	/* no card: writes come back on read */

/* struct raptor_info.flags */
#define RAPTOR_INFO_F_RUNNING	(1U << 0)	/* rings up, frames flow */

/* struct raptor_info: RAPTOR_IOC_INFO, 64 octets. */
struct raptor_info {
	__u32 abi_version;	/* RAPTOR_ABI_VERSION */
	__u32 mode;		/* RAPTOR_MODE_* */
	__u16 mtu;		/* largest frame, header included */
	__u16 min_frame;	/* smallest frame: the header alone */
	__u16 header_len;	/* octets of the frame header */
	__u16 pad0;		/* zero */
	__u32 tx_ring_size;	/* descriptors: frames queued for sending */
	__u32 rx_ring_size;	/* descriptors: frames received, unread */
	__u32 index;		/* N of /dev/raptorN */
	__u32 flags;		/* RAPTOR_INFO_F_* */
	__u32 hw_version;	/* the card's VERSION register; 0 in loopback */
	__u32 reserved[7];	/* zero */
};

/*
 * struct raptor_counters: RAPTOR_IOC_COUNTERS, 128 octets. Every counter
 * counts from the device's creation or the last RAPTOR_RESET_COUNTERS
 * (64 bits: no wrap in practice). A written frame is counted once, in
 * tx_frames, tx_drop_error or tx_drop_reset; an arriving frame once, in
 * rx_frames, rx_drop_no_buffer, rx_drop_bad_length or rx_drop_error;
 * rx_drop_reset counts those of rx_frames that a reset discarded unread.
 */
struct raptor_counters {
	__u64 tx_frames;	/* frames the card (or loopback) sent */
	__u64 tx_bytes;		/* their octets, headers included */
	__u64 rx_frames;	/* frames received and queued for read() */
	__u64 rx_bytes;		/* their octets, headers included */
	__u64 tx_drop_error;	/* the card reported a send error */
	__u64 tx_drop_reset;	/* written, not yet sent, discarded by reset */
	__u64 rx_drop_no_buffer; /* arrived while the receive queue was full */
	__u64 rx_drop_bad_length; /* length field < 3, > MTU or > received */
	__u64 rx_drop_error;	/* the card reported a receive error */
	__u64 rx_drop_reset;	/* received, not yet read, discarded by reset */
	__u64 reserved[6];	/* zero */
};

/* struct raptor_reset.flags */
#define RAPTOR_RESET_RINGS	(1U << 0)	/* reset the card, empty queues */
#define RAPTOR_RESET_COUNTERS	(1U << 1)	/* zero struct raptor_counters */
#define RAPTOR_RESET_ALL	(RAPTOR_RESET_RINGS | RAPTOR_RESET_COUNTERS)

/* struct raptor_reset: RAPTOR_IOC_RESET, 8 octets. */
struct raptor_reset {
	__u32 flags;		/* RAPTOR_RESET_*, at least one */
	__u32 reserved;		/* zero */
};

/*
 * 0xBA is free in Documentation/userspace-api/ioctl/ioctl-number.rst.
 * The direction and the struct size are part of each number, so a
 * mismatched mirror of a struct gets ENOTTY rather than garbage.
 */
#define RAPTOR_IOC_MAGIC	0xBA
#define RAPTOR_IOC_INFO		_IOR(RAPTOR_IOC_MAGIC, 0x00, struct raptor_info)
#define RAPTOR_IOC_COUNTERS	_IOR(RAPTOR_IOC_MAGIC, 0x01, struct raptor_counters)
#define RAPTOR_IOC_RESET	_IOW(RAPTOR_IOC_MAGIC, 0x02, struct raptor_reset)

#endif /* _UAPI_RAPTOR_H */
