//! The partial-credit reward: the functional ladder, the binary variant, R_sec and the joint reward.
//! Depends on the sandbox and the static checks; knows nothing about models or training.
