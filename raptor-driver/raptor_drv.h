/* SPDX-License-Identifier: GPL-2.0-only OR LGPL-2.1-only */
/*
 * raptor: what the parts of the driver share.
 *
 * A port is one /dev/raptorN: a card on PCI, or a loopback instance. Both
 * kinds run the same descriptor rings (raptor_ring.c) and character device
 * (raptor_main.c); they differ only in the "hardware" behind struct
 * raptor_hw_ops: the card's registers (raptor_pci.c), or a work item that
 * plays the card and sends every frame back to the port (raptor_loop.c).
 */
#ifndef RAPTOR_DRV_H
#define RAPTOR_DRV_H

#include <linux/cdev.h>
#include <linux/device.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "uapi/raptor.h"

/*
 * A DMA descriptor, 16 octets, little-endian, in DMA-coherent memory that
 * the driver and the card share. Ownership passes with RAPTOR_DESC_OWN:
 * the driver fills a descriptor and sets OWN last; the card does its part
 * (sends the buffer, or fills it) and clears OWN last.
 */
struct raptor_desc {
	__le64 addr;		/* DMA address of the frame buffer */
	__le16 len;		/* TX: frame length; RX: buffer, then frame */
	__le16 flags;		/* RAPTOR_DESC_* */
	__le32 reserved;	/* zero */
};

#define RAPTOR_DESC_OWN		BIT(0)	/* the card owns the descriptor */
#define RAPTOR_DESC_ERR		BIT(1)	/* card: this frame failed */

/*
 * Every descriptor has a buffer of its own for the life of the ring, so a
 * frame never waits for an allocation. The card's buffers were a page
 * less 200 octets in the C prototype; the ring keeps that size.
 */
#define RAPTOR_BUF_LEN		RAPTOR_PAGE_LEN

/* Ring sizes: module parameters, powers of two within these bounds. */
#define RAPTOR_RING_MIN		8
#define RAPTOR_RING_MAX		4096
#define RAPTOR_RING_DEFAULT	256

/* Descriptors one poll handles per ring before it lets others run. */
#define RAPTOR_POLL_BUDGET	64

/* Loopback instances and ports in all (minor numbers). */
#define RAPTOR_MAX_LOOPBACK	4
#define RAPTOR_MAX_PORTS	64

struct raptor_ring {
	struct raptor_desc *desc;	/* size descriptors, coherent */
	dma_addr_t desc_dma;
	void **buf;			/* each slot's buffer, coherent */
	dma_addr_t *buf_dma;
	u16 *len;			/* RX: frame length of a slot, 0: drop */
	u32 size;			/* a power of two */
};

static inline u32 raptor_slot(const struct raptor_ring *ring, u32 counter)
{
	return counter & (ring->size - 1);
}

struct raptor_port;

/*
 * What the rings need from the hardware. The ring counters handed to the
 * kicks run free (modulo 2^32); the card takes them modulo the ring size.
 * tx_kick, rx_kick, irq_enable and sync_counters are called with
 * port->lock held and must not sleep; start and stop may sleep.
 */
struct raptor_hw_ops {
	/* The rings are initialised: program them, enable the card. */
	int (*start)(struct raptor_port *port);
	/* Quiesce: no DMA, no interrupt and no call of
	 * raptor_port_interrupt() once this returns.
	 */
	void (*stop)(struct raptor_port *port);
	/* Descriptors up to tx_prod (excluded) are the card's to send. */
	void (*tx_kick)(struct raptor_port *port, u32 tx_prod);
	/* Descriptors up to rx_post (excluded) are the card's to fill. */
	void (*rx_kick)(struct raptor_port *port, u32 rx_post);
	/* The poll is done: interrupt again on the next completion. */
	void (*irq_enable)(struct raptor_port *port);
	/* Add what the card counted since the last call to port->cnt. */
	void (*sync_counters)(struct raptor_port *port);
};

struct raptor_port {
	struct device dev;		/* /dev/raptorN; its release frees us */
	struct cdev cdev;
	struct device *dma_dev;		/* what DMA is mapped for */
	const struct raptor_hw_ops *ops;
	void *hw;			/* the backend's state */
	u32 mode;			/* RAPTOR_MODE_* */
	u32 index;			/* N of /dev/raptorN */
	u32 hw_version;

	/*
	 * Lock order: tx_mutex, then rx_mutex, then lock. The mutexes are
	 * held across copies from and to user space (which may fault, and
	 * so sleep), never while waiting for ring space or frames: a reset
	 * or a removal always gets them after at most one copy.
	 */
	struct mutex tx_mutex;		/* one writer in the TX ring at a time */
	struct mutex rx_mutex;		/* one reader in the RX ring at a time */
	/*
	 * The ring counters and the state below. Taken only in process
	 * context (system calls, the poll and the loopback's work items):
	 * the PCI interrupt handler touches registers and queues the poll,
	 * nothing else, so no _irqsave is needed.
	 */
	spinlock_t lock;
	wait_queue_head_t tx_wq;	/* writers waiting for a free slot */
	wait_queue_head_t rx_wq;	/* readers waiting for a frame */
	struct work_struct poll_work;

	struct raptor_ring tx;
	struct raptor_ring rx;
	/*
	 * Free-running counters. TX: [tx_clean, tx_prod) are the card's.
	 * RX: [rx_read, rx_done) were filled by the card and looked at by
	 * the poll, rx_avail of them good frames; [rx_done, rx_post) are
	 * the card's to fill; rx_post - rx_read == rx.size always.
	 */
	u32 tx_prod;
	u32 tx_clean;
	u32 rx_read;
	u32 rx_done;
	u32 rx_post;
	u32 rx_avail;
	bool running;			/* rings up, the card enabled */
	bool dead;			/* removed: every call gets ENODEV */
	struct raptor_counters cnt;
};

extern struct workqueue_struct *raptor_wq;

/* raptor_main.c: ports and the character device */
struct raptor_port *raptor_port_create(struct device *parent,
				       struct device *dma_dev,
				       const struct raptor_hw_ops *ops,
				       u32 mode, void *hw);
int raptor_port_register(struct raptor_port *port);
void raptor_port_unregister(struct raptor_port *port);
void raptor_port_put(struct raptor_port *port);

/* raptor_ring.c: descriptor rings */
u16 raptor_frame_len(const void *buf);
int raptor_rings_alloc(struct raptor_port *port, u32 tx_size, u32 rx_size);
void raptor_rings_free(struct raptor_port *port);
int raptor_rings_start(struct raptor_port *port);
void raptor_rings_stop(struct raptor_port *port);
u32 raptor_tx_free(const struct raptor_port *port);
void raptor_tx_post(struct raptor_port *port, u32 len);
void raptor_rx_consume(struct raptor_port *port);
void raptor_poll(struct work_struct *work);
void raptor_port_interrupt(struct raptor_port *port);

/* raptor_loop.c: the loopback instances */
int raptor_loop_create(unsigned int count);
void raptor_loop_destroy(void);

/* raptor_pci.c: the cards */
int raptor_pci_init(u16 vendor, u16 device);
void raptor_pci_exit(void);

#endif /* RAPTOR_DRV_H */
