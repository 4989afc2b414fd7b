//! argon2id runs on a fixed set of threads, one per core, and each thread reuses one argon2
//! memory block for every hash it computes. Under any burst the process therefore holds at
//! most that many blocks (19 MiB each at the default cost): requests queue for a thread
//! instead of each taking a blocking thread of its own whose freed 19 MiB the C allocator
//! keeps (the growth a security review measured at 9.8 GB under 60 concurrent redemptions).

use std::sync::{mpsc, Arc, Mutex, OnceLock};

use argon2::Block;

type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

pub struct HashingPool {
    jobs: mpsc::Sender<Job>,
    workers: usize,
}

#[derive(Debug, thiserror::Error)]
#[error("the hashing threads stopped")]
pub struct PoolStopped;

impl HashingPool {
    /// The process's pool: one thread per core the process may use, started on first use so
    /// a cold start never waits for it.
    pub fn shared() -> &'static HashingPool {
        static POOL: OnceLock<HashingPool> = OnceLock::new();
        POOL.get_or_init(|| {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            HashingPool::start(cores)
        })
    }

    pub fn start(workers: usize) -> Self {
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for index in 0..workers {
            let receiver = receiver.clone();
            std::thread::Builder::new()
                .name(format!("argon2id-{index}"))
                .spawn(move || {
                    let mut memory = Vec::new();
                    loop {
                        // One idle thread waits on the queue; the others wait for the lock.
                        let next = match receiver.lock() {
                            Ok(queue) => queue.recv(),
                            Err(_) => return,
                        };
                        match next {
                            Ok(job) => job(&mut memory),
                            Err(_) => return,
                        }
                    }
                })
                .expect("the OS starts a hashing thread");
        }
        Self {
            jobs: sender,
            workers,
        }
    }

    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Runs `work` on a hashing thread with that thread's argon2 memory.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, PoolStopped> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |memory| {
            let _ = answer.send(work(memory));
        });
        self.jobs.send(job).map_err(|_| PoolStopped)?;
        answered.await.map_err(|_| PoolStopped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_runs_on_the_pools_threads_each_reusing_its_memory() {
        let pool = Arc::new(HashingPool::start(2));
        let tasks: Vec<_> = (0..40)
            .map(|_| {
                let pool = pool.clone();
                tokio::spawn(async move {
                    pool.run(|memory| {
                        let reused = !memory.is_empty();
                        if memory.is_empty() {
                            memory.resize(8, Block::default());
                        }
                        std::thread::sleep(std::time::Duration::from_millis(2));
                        (std::thread::current().name().unwrap().to_owned(), reused)
                    })
                    .await
                    .unwrap()
                })
            })
            .collect();
        let mut threads = std::collections::BTreeSet::new();
        let mut allocations = 0;
        for task in tasks {
            let (thread, reused) = task.await.unwrap();
            threads.insert(thread);
            allocations += usize::from(!reused);
        }
        assert!(threads.len() <= 2, "{threads:?}");
        assert!(
            allocations <= 2,
            "each thread allocates its memory once: {allocations}"
        );
    }
}
