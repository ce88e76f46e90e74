/** The `code` of what `call` throws synchronously ('no error' when it returns). */
export function codeOf(call: () => unknown): string | undefined {
  try {
    call();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return 'no error';
}
