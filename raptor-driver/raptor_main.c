// SPDX-License-Identifier: GPL-2.0-only OR LGPL-2.1-only
/*
 * raptor: Ouroboros directly over layer 1 on a NetFPGA card.
 *
 * The module, its ports and their character device /dev/raptorN: one
 * frame per read() and per write(), poll(), and three ioctls (info,
 * counters, reset). README.md beside this file describes the ABI.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/compat.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/kernel.h>
#include <linux/log2.h>
#include <linux/module.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "raptor_drv.h"

static unsigned int loopback;
module_param(loopback, uint, 0444);
MODULE_PARM_DESC(loopback,
		 "Loopback instances, 0-4 (default 0): /dev/raptorN whose written frames come back on read, no card needed");

static ushort pci_vendor = 0x10ee;
module_param(pci_vendor, ushort, 0444);
MODULE_PARM_DESC(pci_vendor, "PCI vendor id of the card (default 0x10ee, Xilinx)");

static ushort pci_device = 0x7028;
module_param(pci_device, ushort, 0444);
MODULE_PARM_DESC(pci_device,
		 "PCI device id of the card (default 0x7028, the NetFPGA SUME reference NIC's)");

static unsigned int tx_ring = RAPTOR_RING_DEFAULT;
module_param(tx_ring, uint, 0444);
MODULE_PARM_DESC(tx_ring, "TX descriptors per port, a power of two, 8-4096 (default 256)");

static unsigned int rx_ring = RAPTOR_RING_DEFAULT;
module_param(rx_ring, uint, 0444);
MODULE_PARM_DESC(rx_ring,
		 "RX descriptors per port, a power of two, 8-4096 (default 256): the receive queue's bound");

struct workqueue_struct *raptor_wq;
static dev_t raptor_devt;
static DEFINE_IDA(raptor_ida);

/* static, and registered: the same call before and after Linux 6.4 */
static struct class raptor_class = {
	.name = KBUILD_MODNAME,
};

/*
 * The ABI's structs are mirrored by the o7s raptor IPCP in Rust: their
 * sizes are part of the ioctl numbers, and must not move by accident.
 */
static_assert(sizeof(struct raptor_info) == 64);
static_assert(sizeof(struct raptor_counters) == 128);
static_assert(sizeof(struct raptor_reset) == 8);
static_assert(sizeof(struct raptor_desc) == 16);

/* ---- waiting for ring space or frames ---- */

/*
 * Takes tx_mutex with a free TX slot, waiting for one unless O_NONBLOCK.
 * The wait is done without the mutex, so that a stuck card holds up
 * no reset and no removal.
 */
static int raptor_tx_begin(struct raptor_port *port, bool nonblock)
{
	int ret;

	for (;;) {
		if (nonblock) {
			if (!mutex_trylock(&port->tx_mutex))
				return -EAGAIN;
		} else if (mutex_lock_interruptible(&port->tx_mutex)) {
			return -ERESTARTSYS;
		}

		spin_lock(&port->lock);
		if (port->dead)
			ret = -ENODEV;
		else if (!port->running)
			ret = -EIO;
		else if (raptor_tx_free(port))
			ret = 0;
		else
			ret = -EAGAIN;
		spin_unlock(&port->lock);

		if (ret != -EAGAIN) {
			if (ret)
				mutex_unlock(&port->tx_mutex);
			return ret;
		}
		mutex_unlock(&port->tx_mutex);
		if (nonblock)
			return -EAGAIN;
		ret = wait_event_interruptible(port->tx_wq, ({
			bool go;

			spin_lock(&port->lock);
			go = port->dead || !port->running ||
			     raptor_tx_free(port);
			spin_unlock(&port->lock);
			go;
		}));
		if (ret)
			return ret;
	}
}

/* Takes rx_mutex with a frame at the head of the RX queue. */
static int raptor_rx_begin(struct raptor_port *port, bool nonblock)
{
	int ret;

	for (;;) {
		if (nonblock) {
			if (!mutex_trylock(&port->rx_mutex))
				return -EAGAIN;
		} else if (mutex_lock_interruptible(&port->rx_mutex)) {
			return -ERESTARTSYS;
		}

		spin_lock(&port->lock);
		if (port->dead)
			ret = -ENODEV;
		else if (port->rx_avail)
			ret = 0;
		else if (!port->running)
			ret = -EIO;
		else
			ret = -EAGAIN;
		spin_unlock(&port->lock);

		if (ret != -EAGAIN) {
			if (ret)
				mutex_unlock(&port->rx_mutex);
			return ret;
		}
		mutex_unlock(&port->rx_mutex);
		if (nonblock)
			return -EAGAIN;
		ret = wait_event_interruptible(port->rx_wq, ({
			bool go;

			spin_lock(&port->lock);
			go = port->dead || !port->running || port->rx_avail;
			spin_unlock(&port->lock);
			go;
		}));
		if (ret)
			return ret;
	}
}

/* ---- file operations ---- */

static int raptor_open(struct inode *inode, struct file *file)
{
	struct raptor_port *port = container_of(inode->i_cdev,
						struct raptor_port, cdev);
	bool dead;

	spin_lock(&port->lock);
	dead = port->dead;
	spin_unlock(&port->lock);
	if (dead)
		return -ENODEV;

	/* the port outlives its removal while a file holds it */
	get_device(&port->dev);
	file->private_data = port;
	return stream_open(inode, file);
}

static int raptor_release(struct inode *inode, struct file *file)
{
	struct raptor_port *port = file->private_data;

	put_device(&port->dev);
	return 0;
}

/* One whole frame, its length field equal to count. */
static ssize_t raptor_write(struct file *file, const char __user *ubuf,
			    size_t count, loff_t *ppos)
{
	struct raptor_port *port = file->private_data;
	void *buf;
	int ret;

	if (count < RAPTOR_MIN_FRAME)
		return -EINVAL;
	if (count > RAPTOR_MAX_FRAME)
		return -EMSGSIZE;

	ret = raptor_tx_begin(port, file->f_flags & O_NONBLOCK);
	if (ret)
		return ret;

	/* straight into the slot's DMA buffer: one copy, no allocation */
	buf = port->tx.buf[raptor_slot(&port->tx, port->tx_prod)];
	if (copy_from_user(buf, ubuf, count)) {
		ret = -EFAULT;
		goto out;
	}
	if (raptor_frame_len(buf) != count) {
		ret = -EINVAL;
		goto out;
	}

	spin_lock(&port->lock);
	raptor_tx_post(port, count);
	spin_unlock(&port->lock);
out:
	mutex_unlock(&port->tx_mutex);
	return ret ? ret : count;
}

/*
 * The oldest frame, whole. A buffer too small for it gets EMSGSIZE and
 * leaves it queued: nothing is cut silently.
 */
static ssize_t raptor_read(struct file *file, char __user *ubuf,
			   size_t count, loff_t *ppos)
{
	struct raptor_port *port = file->private_data;
	u32 slot;
	u16 len;
	int ret;

	ret = raptor_rx_begin(port, file->f_flags & O_NONBLOCK);
	if (ret)
		return ret;

	/* ours while we hold rx_mutex: the poll stops at a good frame */
	slot = raptor_slot(&port->rx, port->rx_read);
	len = port->rx.len[slot];
	if (count < len) {
		ret = -EMSGSIZE;
		goto out;
	}
	if (copy_to_user(ubuf, port->rx.buf[slot], len)) {
		ret = -EFAULT;
		goto out;
	}

	spin_lock(&port->lock);
	raptor_rx_consume(port);
	spin_unlock(&port->lock);
	ret = len;
out:
	mutex_unlock(&port->rx_mutex);
	return ret;
}

static __poll_t raptor_poll_fop(struct file *file, poll_table *wait)
{
	struct raptor_port *port = file->private_data;
	__poll_t mask = 0;

	poll_wait(file, &port->rx_wq, wait);
	poll_wait(file, &port->tx_wq, wait);

	spin_lock(&port->lock);
	if (port->dead) {
		mask = EPOLLERR | EPOLLHUP;
	} else {
		if (port->rx_avail)
			mask |= EPOLLIN | EPOLLRDNORM;
		if (port->running && raptor_tx_free(port))
			mask |= EPOLLOUT | EPOLLWRNORM;
		if (!port->running)
			mask |= EPOLLERR;
	}
	spin_unlock(&port->lock);
	return mask;
}

/* ---- ioctls ---- */

static long raptor_ioc_info(struct raptor_port *port, void __user *uarg)
{
	struct raptor_info info;

	memset(&info, 0, sizeof(info));
	info.abi_version = RAPTOR_ABI_VERSION;
	info.mode = port->mode;
	info.mtu = RAPTOR_MAX_FRAME;
	info.min_frame = RAPTOR_MIN_FRAME;
	info.header_len = RAPTOR_HEADER_LEN;
	info.index = port->index;
	info.hw_version = port->hw_version;

	/* after a removal the rings are gone, their sizes with them */
	spin_lock(&port->lock);
	if (port->dead) {
		spin_unlock(&port->lock);
		return -ENODEV;
	}
	info.tx_ring_size = port->tx.size;
	info.rx_ring_size = port->rx.size;
	if (port->running)
		info.flags |= RAPTOR_INFO_F_RUNNING;
	spin_unlock(&port->lock);

	return copy_to_user(uarg, &info, sizeof(info)) ? -EFAULT : 0;
}

static long raptor_ioc_counters(struct raptor_port *port, void __user *uarg)
{
	struct raptor_counters cnt;

	spin_lock(&port->lock);
	if (port->dead) {
		spin_unlock(&port->lock);
		return -ENODEV;
	}
	if (port->running)
		port->ops->sync_counters(port);
	cnt = port->cnt;
	spin_unlock(&port->lock);

	return copy_to_user(uarg, &cnt, sizeof(cnt)) ? -EFAULT : 0;
}

static long raptor_ioc_reset(struct raptor_port *port, struct file *file,
			     void __user *uarg)
{
	struct raptor_reset req;
	long ret = 0;

	/* a reader-only descriptor changes nothing */
	if (!(file->f_mode & FMODE_WRITE))
		return -EBADF;
	if (copy_from_user(&req, uarg, sizeof(req)))
		return -EFAULT;
	if (!req.flags || req.flags & ~RAPTOR_RESET_ALL || req.reserved)
		return -EINVAL;

	if (mutex_lock_interruptible(&port->tx_mutex))
		return -ERESTARTSYS;
	if (mutex_lock_interruptible(&port->rx_mutex)) {
		mutex_unlock(&port->tx_mutex);
		return -ERESTARTSYS;
	}

	spin_lock(&port->lock);
	if (port->dead)
		ret = -ENODEV;
	spin_unlock(&port->lock);
	if (ret)
		goto out;

	if (req.flags & RAPTOR_RESET_RINGS) {
		raptor_rings_stop(port);
		ret = raptor_rings_start(port);
		if (ret)
			dev_err(&port->dev, "restart after reset: %ld\n", ret);
	}
	if (req.flags & RAPTOR_RESET_COUNTERS) {
		spin_lock(&port->lock);
		/* what the card counted so far goes too */
		if (port->running)
			port->ops->sync_counters(port);
		memset(&port->cnt, 0, sizeof(port->cnt));
		spin_unlock(&port->lock);
	}
out:
	mutex_unlock(&port->rx_mutex);
	mutex_unlock(&port->tx_mutex);
	/* writers now have room; readers waiting on a failed card give up */
	wake_up_interruptible_all(&port->tx_wq);
	wake_up_interruptible_all(&port->rx_wq);
	return ret;
}

static long raptor_ioctl(struct file *file, unsigned int cmd,
			 unsigned long arg)
{
	struct raptor_port *port = file->private_data;
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case RAPTOR_IOC_INFO:
		return raptor_ioc_info(port, uarg);
	case RAPTOR_IOC_COUNTERS:
		return raptor_ioc_counters(port, uarg);
	case RAPTOR_IOC_RESET:
		return raptor_ioc_reset(port, file, uarg);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations raptor_fops = {
	.owner = THIS_MODULE,
	.open = raptor_open,
	.release = raptor_release,
	.read = raptor_read,
	.write = raptor_write,
	.poll = raptor_poll_fop,
	.unlocked_ioctl = raptor_ioctl,
	/* fixed-size structs, no pointers in them: the same in 32 bits */
	.compat_ioctl = compat_ptr_ioctl,
};

/* ---- ports ---- */

static void raptor_port_release(struct device *dev)
{
	struct raptor_port *port = container_of(dev, struct raptor_port, dev);

	ida_free(&raptor_ida, port->index);
	kfree(port);
}

/*
 * A port with its rings, not yet visible: raptor_port_register() starts
 * it and makes /dev/raptorN. On failure nothing is left behind.
 */
struct raptor_port *raptor_port_create(struct device *parent,
				       struct device *dma_dev,
				       const struct raptor_hw_ops *ops,
				       u32 mode, void *hw)
{
	struct raptor_port *port;
	int index, ret;

	port = kzalloc(sizeof(*port), GFP_KERNEL);
	if (!port)
		return ERR_PTR(-ENOMEM);

	index = ida_alloc_max(&raptor_ida, RAPTOR_MAX_PORTS - 1, GFP_KERNEL);
	if (index < 0) {
		kfree(port);
		return ERR_PTR(index);
	}

	port->index = index;
	port->dma_dev = dma_dev;
	port->ops = ops;
	port->mode = mode;
	port->hw = hw;
	mutex_init(&port->tx_mutex);
	mutex_init(&port->rx_mutex);
	spin_lock_init(&port->lock);
	init_waitqueue_head(&port->tx_wq);
	init_waitqueue_head(&port->rx_wq);
	INIT_WORK(&port->poll_work, raptor_poll);

	/* from here on, put_device() frees the port and its index */
	device_initialize(&port->dev);
	port->dev.class = &raptor_class;
	port->dev.parent = parent;
	port->dev.devt = MKDEV(MAJOR(raptor_devt), index);
	port->dev.release = raptor_port_release;
	ret = dev_set_name(&port->dev, "raptor%d", index);
	if (ret)
		goto fail;

	cdev_init(&port->cdev, &raptor_fops);
	port->cdev.owner = THIS_MODULE;

	ret = raptor_rings_alloc(port, tx_ring, rx_ring);
	if (ret)
		goto fail;
	return port;

fail:
	put_device(&port->dev);
	return ERR_PTR(ret);
}

/* Starts the port and makes /dev/raptorN; on failure, frees the rings. */
int raptor_port_register(struct raptor_port *port)
{
	int ret;

	ret = raptor_rings_start(port);
	if (ret)
		goto free;

	/* the cdev holds the device, so the port outlives open files */
	ret = cdev_device_add(&port->cdev, &port->dev);
	if (ret)
		goto stop;
	return 0;

stop:
	mutex_lock(&port->tx_mutex);
	mutex_lock(&port->rx_mutex);
	raptor_rings_stop(port);
	mutex_unlock(&port->rx_mutex);
	mutex_unlock(&port->tx_mutex);
free:
	raptor_rings_free(port);
	return ret;
}

/*
 * Removes /dev/raptorN, stops the card and frees the rings. Files still
 * open keep the port (not the rings) and get ENODEV from then on; the
 * caller drops its reference with raptor_port_put().
 */
void raptor_port_unregister(struct raptor_port *port)
{
	cdev_device_del(&port->cdev, &port->dev);

	spin_lock(&port->lock);
	port->dead = true;
	spin_unlock(&port->lock);
	wake_up_interruptible_poll(&port->tx_wq, EPOLLHUP | EPOLLERR);
	wake_up_interruptible_poll(&port->rx_wq, EPOLLHUP | EPOLLERR);

	/* every reader and writer is out of the rings once we hold these */
	mutex_lock(&port->tx_mutex);
	mutex_lock(&port->rx_mutex);
	raptor_rings_stop(port);
	raptor_rings_free(port);
	mutex_unlock(&port->rx_mutex);
	mutex_unlock(&port->tx_mutex);
}

void raptor_port_put(struct raptor_port *port)
{
	put_device(&port->dev);
}

/* ---- the module ---- */

static bool raptor_ring_size_ok(const char *name, unsigned int size)
{
	if (is_power_of_2(size) && size >= RAPTOR_RING_MIN &&
	    size <= RAPTOR_RING_MAX)
		return true;
	pr_err("%s=%u: a power of two from %u to %u\n", name, size,
	       RAPTOR_RING_MIN, RAPTOR_RING_MAX);
	return false;
}

static int __init raptor_init(void)
{
	int ret;

	if (!raptor_ring_size_ok("tx_ring", tx_ring) ||
	    !raptor_ring_size_ok("rx_ring", rx_ring))
		return -EINVAL;
	if (loopback > RAPTOR_MAX_LOOPBACK) {
		pr_err("loopback=%u: at most %u\n", loopback,
		       RAPTOR_MAX_LOOPBACK);
		return -EINVAL;
	}

	ret = alloc_chrdev_region(&raptor_devt, 0, RAPTOR_MAX_PORTS,
				  KBUILD_MODNAME);
	if (ret)
		return ret;

	ret = class_register(&raptor_class);
	if (ret)
		goto unregister_region;

	/* the polls and the loopback's card: high priority, any CPU */
	raptor_wq = alloc_workqueue(KBUILD_MODNAME, WQ_HIGHPRI, 0);
	if (!raptor_wq) {
		ret = -ENOMEM;
		goto destroy_class;
	}

	/* before the cards, so that loopback=1 makes /dev/raptor0 */
	ret = raptor_loop_create(loopback);
	if (ret)
		goto destroy_wq;

	ret = raptor_pci_init(pci_vendor, pci_device);
	if (ret)
		goto destroy_loop;
	return 0;

destroy_loop:
	raptor_loop_destroy();
destroy_wq:
	destroy_workqueue(raptor_wq);
destroy_class:
	class_unregister(&raptor_class);
unregister_region:
	unregister_chrdev_region(raptor_devt, RAPTOR_MAX_PORTS);
	return ret;
}

static void __exit raptor_exit(void)
{
	raptor_pci_exit();
	raptor_loop_destroy();
	destroy_workqueue(raptor_wq);
	class_unregister(&raptor_class);
	unregister_chrdev_region(raptor_devt, RAPTOR_MAX_PORTS);
	/* every port released its index: a leak shows here */
	WARN_ON(!ida_is_empty(&raptor_ida));
	ida_destroy(&raptor_ida);
}

module_init(raptor_init);
module_exit(raptor_exit);

MODULE_DESCRIPTION("raptor: Ouroboros over layer 1 on a NetFPGA card");
MODULE_LICENSE("GPL");
