//! Client logic shared by `client_wy`, `client_dz` and `client_cxk`.
