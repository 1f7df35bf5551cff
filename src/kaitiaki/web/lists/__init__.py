"""What each list page of the operation room accepts (sort keys, filters, CSV columns) and how
it reads one page; the machinery is ``web.listing``."""
