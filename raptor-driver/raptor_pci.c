// SPDX-License-Identifier: GPL-2.0-only OR LGPL-2.1-only
/*
 * raptor: the NetFPGA card on PCI(e).
 *
 * The card's side of the contract is README.md's "Card interface": BAR 0
 * holds 32-bit little-endian registers, the rings are arrays of struct
 * raptor_desc in host memory that the card reads and writes by DMA, and
 * one interrupt (MSI, else INTx) says that descriptors completed.
 */
#include <linux/delay.h>
#include <linux/interrupt.h>
#include <linux/iopoll.h>
#include <linux/pci.h>

#include "raptor_drv.h"

/* BAR 0 registers (offsets in octets) */
#define RAPTOR_REG_ID		0x000	/* RO: RAPTOR_ID */
#define RAPTOR_REG_VERSION	0x004	/* RO: the design's version */
#define RAPTOR_REG_CTRL		0x008	/* RW: RAPTOR_CTRL_* */
#define RAPTOR_REG_STATUS	0x00c	/* RO: RAPTOR_STATUS_* */
#define RAPTOR_REG_IRQ_STATUS	0x010	/* RW1C: RAPTOR_IRQ_* raised */
#define RAPTOR_REG_IRQ_MASK	0x014	/* RW: RAPTOR_IRQ_* enabled */
#define RAPTOR_REG_TX_BASE_LO	0x020	/* RW: TX ring DMA address */
#define RAPTOR_REG_TX_BASE_HI	0x024
#define RAPTOR_REG_TX_SIZE	0x028	/* RW: TX descriptors, 2^n */
#define RAPTOR_REG_TX_TAIL	0x02c	/* WO: driver's producer counter */
#define RAPTOR_REG_TX_HEAD	0x030	/* RO: card's consumer counter */
#define RAPTOR_REG_RX_BASE_LO	0x040	/* RW: RX ring DMA address */
#define RAPTOR_REG_RX_BASE_HI	0x044
#define RAPTOR_REG_RX_SIZE	0x048	/* RW: RX descriptors, 2^n */
#define RAPTOR_REG_RX_TAIL	0x04c	/* WO: driver's producer counter */
#define RAPTOR_REG_RX_HEAD	0x050	/* RO: card's consumer counter */
#define RAPTOR_REG_RX_NO_BUF	0x060	/* RO: frames dropped, no RX slot */

#define RAPTOR_ID		0x52505452	/* "RPTR" */

#define RAPTOR_CTRL_ENABLE	BIT(0)	/* run the rings */
#define RAPTOR_CTRL_RESET	BIT(1)	/* stop, clear counters; self-clears */

#define RAPTOR_STATUS_RESETTING	BIT(0)
#define RAPTOR_STATUS_LINK	BIT(1)

#define RAPTOR_IRQ_TX		BIT(0)	/* TX descriptors completed */
#define RAPTOR_IRQ_RX		BIT(1)	/* RX descriptors completed */
#define RAPTOR_IRQ_ERROR	BIT(2)	/* DMA or bus error: card stopped */
#define RAPTOR_IRQ_ALL		(RAPTOR_IRQ_TX | RAPTOR_IRQ_RX | RAPTOR_IRQ_ERROR)

/* How long a reset may take the card, in microseconds. */
#define RAPTOR_RESET_TIMEOUT_US	100000

struct raptor_pci {
	struct pci_dev *pdev;
	void __iomem *regs;
	struct raptor_port *port;
	int irq;
	u32 rx_no_buf;		/* RX_NO_BUF when last folded into counters */
};

/* The id the driver binds; module parameters fill it in at load. */
static struct pci_device_id raptor_pci_ids[] = {
	{ PCI_DEVICE(0x10ee, 0x7028) },
	{ }
};
MODULE_DEVICE_TABLE(pci, raptor_pci_ids);

static u32 raptor_rd(struct raptor_pci *rp, u32 reg)
{
	return ioread32(rp->regs + reg);
}

static void raptor_wr(struct raptor_pci *rp, u32 reg, u32 val)
{
	iowrite32(val, rp->regs + reg);
}

/* Resets the card: DMA stopped, counters and the rings' registers zero. */
static int raptor_pci_reset(struct raptor_pci *rp)
{
	u32 status;
	int ret;

	raptor_wr(rp, RAPTOR_REG_IRQ_MASK, 0);
	raptor_wr(rp, RAPTOR_REG_CTRL, RAPTOR_CTRL_RESET);
	ret = readl_poll_timeout(rp->regs + RAPTOR_REG_STATUS, status,
				 !(status & RAPTOR_STATUS_RESETTING), 10,
				 RAPTOR_RESET_TIMEOUT_US);
	if (ret)
		dev_err(&rp->pdev->dev, "card did not reset (status %#x)\n",
			status);
	rp->rx_no_buf = 0;
	return ret;
}

static int raptor_pci_start(struct raptor_port *port)
{
	struct raptor_pci *rp = port->hw;
	int ret;

	ret = raptor_pci_reset(rp);
	if (ret)
		return ret;
	raptor_wr(rp, RAPTOR_REG_TX_BASE_LO, lower_32_bits(port->tx.desc_dma));
	raptor_wr(rp, RAPTOR_REG_TX_BASE_HI, upper_32_bits(port->tx.desc_dma));
	raptor_wr(rp, RAPTOR_REG_TX_SIZE, port->tx.size);
	raptor_wr(rp, RAPTOR_REG_RX_BASE_LO, lower_32_bits(port->rx.desc_dma));
	raptor_wr(rp, RAPTOR_REG_RX_BASE_HI, upper_32_bits(port->rx.desc_dma));
	raptor_wr(rp, RAPTOR_REG_RX_SIZE, port->rx.size);
	raptor_wr(rp, RAPTOR_REG_IRQ_STATUS, RAPTOR_IRQ_ALL);
	raptor_wr(rp, RAPTOR_REG_IRQ_MASK, RAPTOR_IRQ_ALL);
	raptor_wr(rp, RAPTOR_REG_CTRL, RAPTOR_CTRL_ENABLE);
	return 0;
}

static void raptor_pci_sync_counters(struct raptor_port *port)
{
	struct raptor_pci *rp = port->hw;
	u32 now = raptor_rd(rp, RAPTOR_REG_RX_NO_BUF);

	/* a free-running 32-bit counter: the difference survives a wrap */
	port->cnt.rx_drop_no_buffer += (u32)(now - rp->rx_no_buf);
	rp->rx_no_buf = now;
}

static void raptor_pci_stop(struct raptor_port *port)
{
	struct raptor_pci *rp = port->hw;

	raptor_wr(rp, RAPTOR_REG_IRQ_MASK, 0);
	/* the reset clears the card's drop counter: keep what it said */
	spin_lock(&port->lock);
	raptor_pci_sync_counters(port);
	spin_unlock(&port->lock);
	raptor_pci_reset(rp);
	/* a handler already running on another CPU finishes first */
	synchronize_irq(rp->irq);
}

static void raptor_pci_tx_kick(struct raptor_port *port, u32 tx_prod)
{
	/* iowrite32 orders the descriptors' writes before the doorbell */
	raptor_wr(port->hw, RAPTOR_REG_TX_TAIL, tx_prod);
}

static void raptor_pci_rx_kick(struct raptor_port *port, u32 rx_post)
{
	raptor_wr(port->hw, RAPTOR_REG_RX_TAIL, rx_post);
}

static void raptor_pci_irq_enable(struct raptor_port *port)
{
	/* the card interrupts at once if a status bit is set */
	raptor_wr(port->hw, RAPTOR_REG_IRQ_MASK, RAPTOR_IRQ_ALL);
}

static const struct raptor_hw_ops raptor_pci_ops = {
	.start = raptor_pci_start,
	.stop = raptor_pci_stop,
	.tx_kick = raptor_pci_tx_kick,
	.rx_kick = raptor_pci_rx_kick,
	.irq_enable = raptor_pci_irq_enable,
	.sync_counters = raptor_pci_sync_counters,
};

/*
 * Hard interrupt context: mask, acknowledge, leave the rings to the poll.
 * The line may be shared, and a card that fell off the bus reads all ones.
 */
static irqreturn_t raptor_pci_irq(int irq, void *data)
{
	struct raptor_pci *rp = data;
	u32 status = raptor_rd(rp, RAPTOR_REG_IRQ_STATUS);

	if (!status || status == U32_MAX)
		return IRQ_NONE;
	raptor_wr(rp, RAPTOR_REG_IRQ_MASK, 0);
	raptor_wr(rp, RAPTOR_REG_IRQ_STATUS, status);
	if (status & RAPTOR_IRQ_ERROR)
		dev_err_ratelimited(&rp->pdev->dev,
				    "card error (status %#x), reset it\n",
				    raptor_rd(rp, RAPTOR_REG_STATUS));
	raptor_port_interrupt(rp->port);
	return IRQ_HANDLED;
}

static int raptor_pci_probe(struct pci_dev *pdev,
			    const struct pci_device_id *id)
{
	struct device *dev = &pdev->dev;
	struct raptor_port *port;
	struct raptor_pci *rp;
	u32 magic;
	int ret;

	rp = devm_kzalloc(dev, sizeof(*rp), GFP_KERNEL);
	if (!rp)
		return -ENOMEM;
	rp->pdev = pdev;

	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	ret = pcim_iomap_regions(pdev, BIT(0), KBUILD_MODNAME);
	if (ret)
		return ret;
	rp->regs = pcim_iomap_table(pdev)[0];

	/* the id alone may be a stock Xilinx design: check the registers */
	magic = raptor_rd(rp, RAPTOR_REG_ID);
	if (magic != RAPTOR_ID) {
		dev_info(dev, "not a raptor card (id register %#x)\n", magic);
		return -ENODEV;
	}

	ret = dma_set_mask_and_coherent(dev, DMA_BIT_MASK(64));
	if (ret)
		ret = dma_set_mask_and_coherent(dev, DMA_BIT_MASK(32));
	if (ret)
		return ret;
	pci_set_master(pdev);

	ret = pci_alloc_irq_vectors(pdev, 1, 1, PCI_IRQ_MSI | PCI_IRQ_LEGACY);
	if (ret < 0)
		return ret;
	rp->irq = pci_irq_vector(pdev, 0);

	port = raptor_port_create(dev, dev, &raptor_pci_ops, RAPTOR_MODE_PCI,
				  rp);
	if (IS_ERR(port)) {
		ret = PTR_ERR(port);
		goto free_vectors;
	}
	rp->port = port;
	port->hw_version = raptor_rd(rp, RAPTOR_REG_VERSION);

	/* quiet before the handler can run: the card may come up dirty */
	ret = raptor_pci_reset(rp);
	if (ret)
		goto free_port;
	ret = request_irq(rp->irq, raptor_pci_irq, IRQF_SHARED,
			  KBUILD_MODNAME, rp);
	if (ret)
		goto free_port;

	ret = raptor_port_register(port);
	if (ret)
		goto free_irq;

	pci_set_drvdata(pdev, rp);
	dev_info(dev, "%s: card version %#x, link %s\n",
		 dev_name(&port->dev), port->hw_version,
		 raptor_rd(rp, RAPTOR_REG_STATUS) & RAPTOR_STATUS_LINK ?
		 "up" : "down");
	return 0;

free_irq:
	free_irq(rp->irq, rp);
	goto put_port;
free_port:
	raptor_rings_free(port);
put_port:
	raptor_port_put(port);
free_vectors:
	pci_free_irq_vectors(pdev);
	return ret;
}

static void raptor_pci_remove(struct pci_dev *pdev)
{
	struct raptor_pci *rp = pci_get_drvdata(pdev);

	/* stops the card: no interrupt from it after this */
	raptor_port_unregister(rp->port);
	free_irq(rp->irq, rp);
	pci_free_irq_vectors(pdev);
	/* open files may keep the port; it no longer touches the card */
	raptor_port_put(rp->port);
}

static struct pci_driver raptor_pci_driver = {
	.name = KBUILD_MODNAME,
	.id_table = raptor_pci_ids,
	.probe = raptor_pci_probe,
	.remove = raptor_pci_remove,
};

int raptor_pci_init(u16 vendor, u16 device)
{
	/*
	 * The table above is what module autoloading sees; the parameters
	 * override it for this load. (sysfs new_id adds more at run time.)
	 */
	raptor_pci_ids[0].vendor = vendor;
	raptor_pci_ids[0].device = device;
	return pci_register_driver(&raptor_pci_driver);
}

void raptor_pci_exit(void)
{
	pci_unregister_driver(&raptor_pci_driver);
}
