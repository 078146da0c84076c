from ansible_collections.baremetal.lb.daemons.kube.workqueue import WorkQueue


def test_repeats_coalesce():
    queue = WorkQueue()
    queue.add_all(["a", "b", "a"])
    assert len(queue) == 2
    assert queue.get(0) == "a"
    assert queue.get(0) == "b"
    assert queue.get(0) is None


def test_a_key_added_while_processing_comes_back_after_done():
    queue = WorkQueue()
    queue.add("a")
    assert queue.get(0) == "a"
    queue.add("a")
    assert queue.get(0) is None  # never handed to two workers at once
    queue.done("a")
    assert queue.get(0) == "a"
    queue.done("a")
    assert queue.idle()


def test_close_wakes_workers():
    queue = WorkQueue()
    queue.close()
    assert queue.get() is None
