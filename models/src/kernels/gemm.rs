//! The GEMM the kernels share: the `gemm` crate's (burn-flex's own), on strided views, so that
//! transposed operands are read in place.

pub use gemm::Parallelism;

/// A read-only matrix view: data with a row stride and a column stride (in elements).
#[derive(Clone, Copy)]
pub struct Matrix<'a> {
    data: &'a [f32],
    row_stride: isize,
    col_stride: isize,
}

impl<'a> Matrix<'a> {
    /// A row-major matrix with `columns` columns.
    pub fn row_major(data: &'a [f32], columns: usize) -> Self {
        Self {
            data,
            row_stride: columns as isize,
            col_stride: 1,
        }
    }

    /// The same data read as the transpose: rows and columns swapped, nothing copied.
    pub fn transposed(self) -> Self {
        Self {
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }

    /// The largest element index reached by an `rows x columns` view.
    fn last_index(&self, rows: usize, columns: usize) -> usize {
        (rows - 1) * self.row_stride as usize + (columns - 1) * self.col_stride as usize
    }
}

/// `dst [m, n]` (row-major, row stride `dst_columns`) `= lhs [m, k] @ rhs [k, n]`, plus the old
/// `dst` if `accumulate`, on `parallelism`'s threads (gemm splits the rows and columns of
/// `dst`, never a sum, so the result does not depend on the thread count).
pub fn gemm_into(
    dst: &mut [f32],
    dst_columns: usize,
    lhs: Matrix,
    rhs: Matrix,
    [m, n, k]: [usize; 3],
    accumulate: bool,
    parallelism: Parallelism,
) {
    assert!(m > 0 && n > 0 && k > 0 && n <= dst_columns);
    assert!(lhs.last_index(m, k) < lhs.data.len() && rhs.last_index(k, n) < rhs.data.len());
    assert!((m - 1) * dst_columns + n <= dst.len());
    // gemm's f32 microkernel (AVX2) computes 16 rows by 6 columns of `dst` at a time, so a
    // product with fewer than 16 rows wastes most of each tile: LeNet's first convolution has 6
    // rows (its output channels) and 6,272 columns (8 images of 28x28). Its transpose,
    // `dst^T [n, m] = rhs^T @ lhs^T`, fills the tiles, and transposing is only a swap of strides.
    let transpose = m < 16 && n > m;
    let (m, n, dst_strides, lhs, rhs) = if transpose {
        (
            n,
            m,
            [dst_columns as isize, 1],
            rhs.transposed(),
            lhs.transposed(),
        )
    } else {
        (m, n, [1, dst_columns as isize], lhs, rhs)
    };
    // SAFETY: the asserts above keep every element gemm reads or writes inside the slices (the
    // transposed problem touches the same elements), and `dst` is a unique borrow that does not
    // alias `lhs` or `rhs`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            dst_strides[0],
            dst_strides[1],
            accumulate,
            lhs.data.as_ptr(),
            lhs.col_stride,
            lhs.row_stride,
            rhs.data.as_ptr(),
            rhs.col_stride,
            rhs.row_stride,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}
