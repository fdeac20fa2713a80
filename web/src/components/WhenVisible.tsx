import { startTransition, useEffect, useRef, useState, type HTMLAttributes, type ReactNode } from 'react';

/**
 * A box whose children are rendered once it comes within `margin` of the viewport, and
 * kept. For costly content below the fold — a chart: recharts' code and its first
 * render take longer than all the rest of the Overview on a phone — so the page paints
 * and answers input first, and a phone that never scrolls there never pays for it.
 * Give the box its final height, so nothing moves when the content arrives.
 */
export function WhenVisible({ children, margin = '200px', ...rest }: HTMLAttributes<HTMLDivElement> & { children: ReactNode; margin?: string }) {
  const ref = useRef<HTMLDivElement>(null);
  const [visible, setVisible] = useState(false);
  useEffect(() => {
    const element = ref.current;
    if (visible || !element) {
      return;
    }
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting)) {
        // A transition: React renders the content in slices between which the page
        // stays responsive, instead of in one long task.
        startTransition(() => setVisible(true));
      }
    }, { rootMargin: margin });
    observer.observe(element);
    return () => observer.disconnect();
  }, [visible, margin]);
  return (
    <div ref={ref} {...rest}>
      {visible ? children : null}
    </div>
  );
}
