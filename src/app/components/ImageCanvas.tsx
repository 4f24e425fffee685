import { forwardRef, useEffect, useImperativeHandle, useRef } from 'react';
import type { GeneratedImage } from '../../engine/api.ts';

export interface ImageCanvasProps {
  image: GeneratedImage | null;
  testId?: string;
  className?: string;
  /** Extra data-* attributes (state, job). */
  data?: Record<string, string>;
  label?: string;
}

/** Draws an engine image's RGBA straight into a canvas (ImageData), pixel for pixel. */
export const ImageCanvas = forwardRef<HTMLCanvasElement | null, ImageCanvasProps>(function ImageCanvas({ image, testId, className, data, label }, ref) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useImperativeHandle(ref, () => canvas.current!, []);
  useEffect(() => {
    const element = canvas.current;
    if (!element) return;
    const context = element.getContext('2d');
    if (!context) return;
    if (!image) {
      context.clearRect(0, 0, element.width, element.height);
      return;
    }
    element.width = image.width;
    element.height = image.height;
    // ImageData wants its own ArrayBuffer-backed array; the engine's may be a view.
    context.putImageData(new ImageData(new Uint8ClampedArray(image.rgba), image.width, image.height), 0, 0);
  }, [image]);
  const dataAttributes = Object.fromEntries(Object.entries(data ?? {}).map(([k, v]) => [`data-${k}`, v]));
  return <canvas ref={canvas} className={className} data-testid={testId} aria-label={label} role="img" width={64} height={64} {...dataAttributes} />;
});
