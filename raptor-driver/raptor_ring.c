// SPDX-License-Identifier: GPL-2.0-only OR LGPL-2.1-only
/*
 * raptor: the TX and RX descriptor rings, and the poll that reaps them.
 *
 * The card (or the loopback) interrupts; the interrupt only queues the
 * poll, which reclaims sent TX descriptors, checks received frames and
 * wakes writers and readers, at most RAPTOR_POLL_BUDGET descriptors of
 * each ring per run, and re-enables the interrupt once it has caught up
 * (the NAPI pattern, in a work item: nothing here needs a net_device).
 *
 * The RX ring is the receive queue: a received frame stays in its slot
 * until read() copies it out, and the slot goes back to the card then.
 * The queue is thus bounded by the ring, and a card that finds no free
 * slot drops the frame and counts it (rx_drop_no_buffer).
 */
#include <linux/dma-mapping.h>
#include <linux/poll.h>
#include <linux/slab.h>

#include "raptor_drv.h"

/* A frame's own length field: octets 0 and 1, low octet first. */
u16 raptor_frame_len(const void *buf)
{
	const u8 *p = buf;

	return p[0] | p[1] << 8;
}

static void raptor_ring_free(struct device *dma_dev, struct raptor_ring *ring)
{
	u32 i;

	if (ring->buf) {
		for (i = 0; i < ring->size; i++)
			if (ring->buf[i])
				dma_free_coherent(dma_dev, RAPTOR_BUF_LEN,
						  ring->buf[i], ring->buf_dma[i]);
	}
	if (ring->desc)
		dma_free_coherent(dma_dev, ring->size * sizeof(*ring->desc),
				  ring->desc, ring->desc_dma);
	kfree(ring->buf);
	kfree(ring->buf_dma);
	kfree(ring->len);
	memset(ring, 0, sizeof(*ring));
}

static int raptor_ring_alloc(struct device *dma_dev, struct raptor_ring *ring,
			     u32 size)
{
	u32 i;

	ring->size = size;
	ring->buf = kcalloc(size, sizeof(*ring->buf), GFP_KERNEL);
	ring->buf_dma = kcalloc(size, sizeof(*ring->buf_dma), GFP_KERNEL);
	ring->len = kcalloc(size, sizeof(*ring->len), GFP_KERNEL);
	if (!ring->buf || !ring->buf_dma || !ring->len)
		goto fail;

	ring->desc = dma_alloc_coherent(dma_dev, size * sizeof(*ring->desc),
					&ring->desc_dma, GFP_KERNEL);
	if (!ring->desc)
		goto fail;

	/*
	 * One small coherent buffer per slot rather than one large area:
	 * an order-0 allocation does not fail on a fragmented machine.
	 */
	for (i = 0; i < size; i++) {
		ring->buf[i] = dma_alloc_coherent(dma_dev, RAPTOR_BUF_LEN,
						  &ring->buf_dma[i],
						  GFP_KERNEL);
		if (!ring->buf[i])
			goto fail;
	}
	return 0;

fail:
	raptor_ring_free(dma_dev, ring);
	return -ENOMEM;
}

int raptor_rings_alloc(struct raptor_port *port, u32 tx_size, u32 rx_size)
{
	int ret;

	ret = raptor_ring_alloc(port->dma_dev, &port->tx, tx_size);
	if (ret)
		return ret;
	ret = raptor_ring_alloc(port->dma_dev, &port->rx, rx_size);
	if (ret)
		raptor_ring_free(port->dma_dev, &port->tx);
	return ret;
}

void raptor_rings_free(struct raptor_port *port)
{
	raptor_ring_free(port->dma_dev, &port->tx);
	raptor_ring_free(port->dma_dev, &port->rx);
}

/* Gives the card the descriptor of a slot, buffer and all. */
static void raptor_desc_give(struct raptor_ring *ring, u32 slot, u16 len)
{
	struct raptor_desc *d = &ring->desc[slot];

	d->addr = cpu_to_le64(ring->buf_dma[slot]);
	d->len = cpu_to_le16(len);
	d->reserved = 0;
	/* the card must see the fields before it sees that it owns them */
	dma_wmb();
	WRITE_ONCE(d->flags, cpu_to_le16(RAPTOR_DESC_OWN));
}

/* Whether the card is done with a descriptor; then its fields are ours. */
static bool raptor_desc_done(const struct raptor_desc *d, u16 *flags)
{
	*flags = le16_to_cpu(READ_ONCE(d->flags));
	if (*flags & RAPTOR_DESC_OWN)
		return false;
	/* the card wrote the fields before it cleared OWN */
	dma_rmb();
	return true;
}

u32 raptor_tx_free(const struct raptor_port *port)
{
	return port->tx.size - (port->tx_prod - port->tx_clean);
}

/* With port->lock, a free slot, its buffer filled: send it. */
void raptor_tx_post(struct raptor_port *port, u32 len)
{
	lockdep_assert_held(&port->lock);
	raptor_desc_give(&port->tx, raptor_slot(&port->tx, port->tx_prod),
			 len);
	port->tx_prod++;
	port->ops->tx_kick(port, port->tx_prod);
}

/* Reclaims the descriptors the card sent; returns how many. */
static u32 raptor_tx_clean(struct raptor_port *port, u32 budget)
{
	u32 n = 0;
	u16 flags;

	while (n < budget && port->tx_clean != port->tx_prod) {
		u32 slot = raptor_slot(&port->tx, port->tx_clean);
		const struct raptor_desc *d = &port->tx.desc[slot];

		if (!raptor_desc_done(d, &flags))
			break;
		if (flags & RAPTOR_DESC_ERR) {
			port->cnt.tx_drop_error++;
		} else {
			port->cnt.tx_frames++;
			port->cnt.tx_bytes += le16_to_cpu(d->len);
		}
		port->tx_clean++;
		n++;
	}
	return n;
}

/*
 * Tells the card about the RX slots given back. Not while stopped: the
 * final poll of a reset or a removal gives slots back to no card.
 */
static void raptor_rx_kick(struct raptor_port *port)
{
	if (port->running)
		port->ops->rx_kick(port, port->rx_post);
}

/* Gives the oldest RX slot back to the card. */
static void raptor_rx_repost(struct raptor_port *port)
{
	u32 slot = raptor_slot(&port->rx, port->rx_read);

	port->rx.len[slot] = 0;
	raptor_desc_give(&port->rx, slot, RAPTOR_BUF_LEN);
	port->rx_read++;
	port->rx_post++;
}

/*
 * Gives back the dropped frames at the head of the queue, so that the
 * head is a frame to read whenever rx_avail says there is one, and a
 * queue of bad frames cannot starve the card of buffers.
 */
static bool raptor_rx_recycle(struct raptor_port *port)
{
	bool any = false;

	while (port->rx_read != port->rx_done &&
	       !port->rx.len[raptor_slot(&port->rx, port->rx_read)]) {
		raptor_rx_repost(port);
		any = true;
	}
	return any;
}

/*
 * Looks at the frames the card received: a good one is queued for read(),
 * a bad one is counted and its slot given back. Returns the descriptors
 * seen; *frames counts the good ones.
 */
static u32 raptor_rx_poll(struct raptor_port *port, u32 budget, u32 *frames)
{
	u32 n = 0;
	u16 flags;

	*frames = 0;
	while (n < budget && port->rx_done != port->rx_post) {
		u32 slot = raptor_slot(&port->rx, port->rx_done);
		const struct raptor_desc *d = &port->rx.desc[slot];
		u16 len, flen = 0;

		if (!raptor_desc_done(d, &flags))
			break;
		len = le16_to_cpu(d->len);
		if (flags & RAPTOR_DESC_ERR) {
			port->cnt.rx_drop_error++;
		} else if (len < RAPTOR_MIN_FRAME || len > RAPTOR_BUF_LEN) {
			port->cnt.rx_drop_bad_length++;
		} else {
			/*
			 * The card may pad what it writes (the C receiver
			 * cut the page to the length field): the frame is
			 * what its length field says, if that fits.
			 */
			flen = raptor_frame_len(port->rx.buf[slot]);
			if (flen < RAPTOR_MIN_FRAME || flen > len ||
			    flen > RAPTOR_MAX_FRAME) {
				port->cnt.rx_drop_bad_length++;
				flen = 0;
			} else {
				port->cnt.rx_frames++;
				port->cnt.rx_bytes += flen;
				port->rx_avail++;
				(*frames)++;
			}
		}
		port->rx.len[slot] = flen;
		port->rx_done++;
		n++;
	}
	if (raptor_rx_recycle(port))
		raptor_rx_kick(port);
	return n;
}

/* With port->lock, after read() copied the head frame out: drop it. */
void raptor_rx_consume(struct raptor_port *port)
{
	lockdep_assert_held(&port->lock);
	port->rx_avail--;
	raptor_rx_repost(port);
	raptor_rx_recycle(port);
	raptor_rx_kick(port);
}

/*
 * Empty rings, every RX slot given to the card, and the card started.
 * Called with both mutexes (or before the port is visible), so that no
 * reader or writer is in a ring.
 */
int raptor_rings_start(struct raptor_port *port)
{
	u32 i;
	int ret;

	memset(port->tx.desc, 0, port->tx.size * sizeof(*port->tx.desc));
	memset(port->rx.desc, 0, port->rx.size * sizeof(*port->rx.desc));
	memset(port->rx.len, 0, port->rx.size * sizeof(*port->rx.len));

	spin_lock(&port->lock);
	port->tx_prod = 0;
	port->tx_clean = 0;
	port->rx_read = 0;
	port->rx_done = 0;
	port->rx_avail = 0;
	for (i = 0; i < port->rx.size; i++)
		raptor_desc_give(&port->rx, i, RAPTOR_BUF_LEN);
	port->rx_post = port->rx.size;
	spin_unlock(&port->lock);

	ret = port->ops->start(port);
	if (ret)
		return ret;

	spin_lock(&port->lock);
	port->running = true;
	raptor_rx_kick(port);
	spin_unlock(&port->lock);
	return 0;
}

/*
 * Stops the card and the poll. What the card had finished is counted as
 * usual; what was still queued either way is counted as dropped by the
 * reset. Called with both mutexes.
 */
void raptor_rings_stop(struct raptor_port *port)
{
	u32 frames;

	spin_lock(&port->lock);
	if (!port->running) {
		spin_unlock(&port->lock);
		return;
	}
	/* the poll re-enables no interrupt from now on */
	port->running = false;
	spin_unlock(&port->lock);

	port->ops->stop(port);
	/* after stop(): nothing queues the poll any more */
	cancel_work_sync(&port->poll_work);

	spin_lock(&port->lock);
	port->ops->sync_counters(port);
	raptor_tx_clean(port, U32_MAX);
	raptor_rx_poll(port, U32_MAX, &frames);
	port->cnt.tx_drop_reset += port->tx_prod - port->tx_clean;
	port->cnt.rx_drop_reset += port->rx_avail;
	port->tx_clean = port->tx_prod;
	port->rx_avail = 0;
	spin_unlock(&port->lock);

	wake_up_interruptible_poll(&port->tx_wq, EPOLLOUT | EPOLLWRNORM);
}

/* The card's interrupt, or the loopback's: poll in process context. */
void raptor_port_interrupt(struct raptor_port *port)
{
	queue_work(raptor_wq, &port->poll_work);
}

void raptor_poll(struct work_struct *work)
{
	struct raptor_port *port = container_of(work, struct raptor_port,
						poll_work);
	u32 sent, seen, frames;
	bool more;

	spin_lock(&port->lock);
	if (!port->running) {
		spin_unlock(&port->lock);
		return;
	}
	sent = raptor_tx_clean(port, RAPTOR_POLL_BUDGET);
	seen = raptor_rx_poll(port, RAPTOR_POLL_BUDGET, &frames);
	more = sent == RAPTOR_POLL_BUDGET || seen == RAPTOR_POLL_BUDGET;
	/*
	 * Under the lock with running checked, so that raptor_rings_stop()
	 * cannot mask the interrupt between the check and the unmask.
	 */
	if (!more)
		port->ops->irq_enable(port);
	spin_unlock(&port->lock);

	if (sent)
		wake_up_interruptible_poll(&port->tx_wq, EPOLLOUT | EPOLLWRNORM);
	if (frames)
		wake_up_interruptible_poll(&port->rx_wq, EPOLLIN | EPOLLRDNORM);
	/* still busy: run again, after whatever else is queued */
	if (more)
		queue_work(raptor_wq, &port->poll_work);
}
