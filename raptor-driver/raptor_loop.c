// SPDX-License-Identifier: GPL-2.0-only OR LGPL-2.1-only
/*
 * raptor: the loopback instances (module parameter loopback=N).
 *
 * A loopback port is a port like a card's: the same rings, buffers from
 * the same DMA API (for a platform device of its own), the same poll and
 * character device. Only the card is played by software: a work item
 * that takes what the driver gives it in the TX ring, copies each frame
 * into the next RX descriptor the driver gave it, clears the ownership
 * bits as a card would, and "interrupts" by calling the same
 * raptor_port_interrupt() as the PCI interrupt handler. It also checks
 * the driver as a card cannot: a descriptor it is given that the driver
 * does not own, or that points at another buffer, is a driver bug, and
 * WARNs.
 */
#include <linux/dma-mapping.h>
#include <linux/err.h>
#include <linux/platform_device.h>
#include <linux/slab.h>

#include "raptor_drv.h"

/* Frames the "card" moves per run before it lets others run. */
#define RAPTOR_LOOP_BUDGET	64

struct raptor_loop {
	struct platform_device *pdev;
	struct raptor_port *port;
	struct work_struct work;
	/* the emulated registers below; taken after port->lock */
	spinlock_t lock;
	bool enabled;
	bool irq_enabled;
	bool irq_pending;
	u32 tx_tail;		/* doorbells: what the driver gave */
	u32 rx_tail;
	u32 tx_head;		/* what the card took */
	u32 rx_head;
	u64 rx_no_buffer;	/* drops since the last sync_counters */
};

static struct raptor_loop *raptor_loops[RAPTOR_MAX_LOOPBACK];
static unsigned int raptor_loop_count;

/*
 * With lp->lock: an interrupt is due. Returns whether to deliver it, as
 * the card would with the interrupt unmasked; the delivery masks it,
 * until the poll is done (irq_enable).
 */
static bool raptor_loop_irq_locked(struct raptor_loop *lp)
{
	lp->irq_pending = true;
	if (!lp->irq_enabled)
		return false;
	lp->irq_enabled = false;
	lp->irq_pending = false;
	return true;
}

/* The card's own view of a descriptor: whether the driver gave it. */
static bool raptor_loop_desc_ours(const struct raptor_ring *ring, u32 slot)
{
	const struct raptor_desc *d = &ring->desc[slot];
	u16 flags = le16_to_cpu(READ_ONCE(d->flags));

	if (WARN_ON_ONCE(!(flags & RAPTOR_DESC_OWN)))
		return false;
	/* the driver wrote the fields before it set OWN */
	dma_rmb();
	return !WARN_ON_ONCE(le64_to_cpu(d->addr) != ring->buf_dma[slot]);
}

/* Hands a descriptor back to the driver, as the card writes it back. */
static void raptor_loop_desc_done(struct raptor_desc *d, u16 len, u16 flags)
{
	d->len = cpu_to_le16(len);
	dma_wmb();
	WRITE_ONCE(d->flags, cpu_to_le16(flags));
}

/* Sends one frame back: from TX slot tx to RX slot rx, or drops it. */
static void raptor_loop_move(struct raptor_port *port, u32 tx, u32 rx,
			     bool have_rx, u64 *no_buffer)
{
	struct raptor_desc *txd = &port->tx.desc[tx];
	u16 len, tx_flags = 0;

	if (!raptor_loop_desc_ours(&port->tx, tx)) {
		raptor_loop_desc_done(txd, le16_to_cpu(txd->len),
				      RAPTOR_DESC_ERR);
		return;
	}
	len = le16_to_cpu(txd->len);
	if (len > RAPTOR_BUF_LEN) {
		/* a card would not read past the buffer either */
		tx_flags = RAPTOR_DESC_ERR;
	} else if (!have_rx) {
		/* sent, but nowhere to land: the receiving side drops it */
		(*no_buffer)++;
	} else if (raptor_loop_desc_ours(&port->rx, rx)) {
		struct raptor_desc *rxd = &port->rx.desc[rx];

		if (len > le16_to_cpu(rxd->len)) {
			raptor_loop_desc_done(rxd, 0, RAPTOR_DESC_ERR);
		} else {
			memcpy(port->rx.buf[rx], port->tx.buf[tx], len);
			raptor_loop_desc_done(rxd, len, 0);
		}
	}
	raptor_loop_desc_done(txd, len, tx_flags);
}

static void raptor_loop_work(struct work_struct *work)
{
	struct raptor_loop *lp = container_of(work, struct raptor_loop, work);
	struct raptor_port *port = lp->port;
	u32 tx_head, tx_tail, rx_head, rx_tail, n = 0;
	u64 no_buffer = 0;
	bool irq, more;

	spin_lock(&lp->lock);
	if (!lp->enabled) {
		spin_unlock(&lp->lock);
		return;
	}
	tx_head = lp->tx_head;
	tx_tail = lp->tx_tail;
	rx_head = lp->rx_head;
	rx_tail = lp->rx_tail;
	spin_unlock(&lp->lock);

	/*
	 * The rings are the driver's memory, shared as with a card: no
	 * driver lock is taken, ownership goes by the OWN bits alone. The
	 * rings stay allocated while the card is enabled (stop() waits
	 * for this work before the driver frees them).
	 */
	while (tx_head != tx_tail && n < RAPTOR_LOOP_BUDGET) {
		bool have_rx = rx_head != rx_tail;

		raptor_loop_move(port, raptor_slot(&port->tx, tx_head),
				 raptor_slot(&port->rx, rx_head), have_rx,
				 &no_buffer);
		tx_head++;
		if (have_rx)
			rx_head++;
		n++;
	}

	spin_lock(&lp->lock);
	lp->tx_head = tx_head;
	lp->rx_head = rx_head;
	lp->rx_no_buffer += no_buffer;
	irq = n && raptor_loop_irq_locked(lp);
	more = lp->enabled && lp->tx_head != lp->tx_tail;
	spin_unlock(&lp->lock);

	if (irq)
		raptor_port_interrupt(port);
	if (more)
		queue_work(raptor_wq, &lp->work);
}

static int raptor_loop_start(struct raptor_port *port)
{
	struct raptor_loop *lp = port->hw;

	spin_lock(&lp->lock);
	lp->tx_head = 0;
	lp->tx_tail = 0;
	lp->rx_head = 0;
	lp->rx_tail = 0;
	lp->irq_pending = false;
	lp->irq_enabled = true;
	lp->enabled = true;
	spin_unlock(&lp->lock);
	return 0;
}

static void raptor_loop_stop(struct raptor_port *port)
{
	struct raptor_loop *lp = port->hw;

	spin_lock(&lp->lock);
	lp->enabled = false;
	lp->irq_enabled = false;
	spin_unlock(&lp->lock);
	/* a run in progress finishes; none starts after it */
	cancel_work_sync(&lp->work);
}

static void raptor_loop_tx_kick(struct raptor_port *port, u32 tx_prod)
{
	struct raptor_loop *lp = port->hw;
	bool run;

	spin_lock(&lp->lock);
	lp->tx_tail = tx_prod;
	run = lp->enabled;
	spin_unlock(&lp->lock);
	if (run)
		queue_work(raptor_wq, &lp->work);
}

static void raptor_loop_rx_kick(struct raptor_port *port, u32 rx_post)
{
	struct raptor_loop *lp = port->hw;

	/* frames that found no buffer were dropped: nothing to resume */
	spin_lock(&lp->lock);
	lp->rx_tail = rx_post;
	spin_unlock(&lp->lock);
}

static void raptor_loop_irq_enable(struct raptor_port *port)
{
	struct raptor_loop *lp = port->hw;
	bool irq = false;

	spin_lock(&lp->lock);
	if (lp->enabled) {
		lp->irq_enabled = true;
		/* a completion while masked interrupts on unmask */
		if (lp->irq_pending)
			irq = raptor_loop_irq_locked(lp);
	}
	spin_unlock(&lp->lock);
	if (irq)
		raptor_port_interrupt(port);
}

static void raptor_loop_sync_counters(struct raptor_port *port)
{
	struct raptor_loop *lp = port->hw;

	spin_lock(&lp->lock);
	port->cnt.rx_drop_no_buffer += lp->rx_no_buffer;
	lp->rx_no_buffer = 0;
	spin_unlock(&lp->lock);
}

static const struct raptor_hw_ops raptor_loop_ops = {
	.start = raptor_loop_start,
	.stop = raptor_loop_stop,
	.tx_kick = raptor_loop_tx_kick,
	.rx_kick = raptor_loop_rx_kick,
	.irq_enable = raptor_loop_irq_enable,
	.sync_counters = raptor_loop_sync_counters,
};

static void raptor_loop_free(struct raptor_loop *lp)
{
	platform_device_unregister(lp->pdev);
	kfree(lp);
}

static int raptor_loop_add(unsigned int id)
{
	struct platform_device_info info = {
		.name = "raptor-loop",
		.id = id,
		/* the rings' buffers come from the DMA API, as for a card */
		.dma_mask = DMA_BIT_MASK(64),
	};
	struct raptor_loop *lp;
	struct raptor_port *port;
	int ret;

	lp = kzalloc(sizeof(*lp), GFP_KERNEL);
	if (!lp)
		return -ENOMEM;
	spin_lock_init(&lp->lock);
	INIT_WORK(&lp->work, raptor_loop_work);

	lp->pdev = platform_device_register_full(&info);
	if (IS_ERR(lp->pdev)) {
		ret = PTR_ERR(lp->pdev);
		kfree(lp);
		return ret;
	}

	port = raptor_port_create(&lp->pdev->dev, &lp->pdev->dev,
				  &raptor_loop_ops, RAPTOR_MODE_LOOPBACK, lp);
	if (IS_ERR(port)) {
		ret = PTR_ERR(port);
		goto free;
	}
	lp->port = port;

	ret = raptor_port_register(port);
	if (ret)
		goto put;

	dev_info(&port->dev, "loopback instance\n");
	raptor_loops[raptor_loop_count++] = lp;
	return 0;

put:
	raptor_port_put(port);
free:
	raptor_loop_free(lp);
	return ret;
}

int raptor_loop_create(unsigned int count)
{
	unsigned int i;
	int ret;

	for (i = 0; i < count; i++) {
		ret = raptor_loop_add(i);
		if (ret) {
			raptor_loop_destroy();
			return ret;
		}
	}
	return 0;
}

void raptor_loop_destroy(void)
{
	while (raptor_loop_count) {
		struct raptor_loop *lp = raptor_loops[--raptor_loop_count];

		raptor_port_unregister(lp->port);
		raptor_port_put(lp->port);
		raptor_loop_free(lp);
		raptor_loops[raptor_loop_count] = NULL;
	}
}
